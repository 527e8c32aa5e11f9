// Dense matrix products of the built-in model: row-major single-precision GEMM
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(X) = X or X^T; lda/ldb/ldc are row strides (elements). CPU: OpenBLAS
// (cblas_sgemm), whose own threads are set once to sr::num_threads(). A
// product with M, N or K = 0 scales C by beta (K = 0) or does nothing.
// CUDA: not implemented yet (the model refuses device 'cuda').
#pragma once
#include <cstdint>

namespace sr::model {

void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Sets OpenBLAS's thread count to sr::num_threads() (once; later calls do nothing).
void init_blas_threads();

}  // namespace sr::model
