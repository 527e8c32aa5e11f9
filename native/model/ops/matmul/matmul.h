// Dense matrix products of the built-in model: row-major single-precision GEMM
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(X) = X or X^T; lda/ldb/ldc are row strides (elements). A product with M or
// N = 0 does nothing; with K = 0 it sets C = beta * C. beta = 0 never reads C
// (so C may hold NaN or garbage), like BLAS.
//
// CPU: OpenBLAS (cblas_sgemm), whose own threads are set once to sr::num_threads().
//
// CUDA (gemm_cuda): tensor cores through WMMA m16n16k8 TF32 with f32
// accumulation, no cuBLAS. 64 x 64 block tiles, K in steps of 32, 4 warps of
// 32 x 32; any M, N, K, strides and pointer alignment (tiles are zero-padded
// in shared memory, every element load is a 4-byte load). Precision:
//   Tf32   inputs rounded to TF32 (10-bit mantissa, round to nearest): relative
//          error ~1e-3 of sum |a||b|, the speed of TF32 tensor cores;
//   Tf32x3 each input split into big + small TF32 parts and three products
//          summed (big*small twice, big*big): about f32 accuracy (~1e-6),
//          three times the tensor-core work.
// Few output tiles and a long K (the weight gradients of a small model) split K over up to 16 blocks per
// tile into a pool-allocated partial buffer, summed in a fixed order by a second kernel: deterministic on a
// given GPU (the split count depends on its number of SMs), never atomics.
// Asynchronous on sr::cuda::stream(); no host synchronisation.
// gemm_tiles.h holds the tiling and index arithmetic (shared with a host test).
#pragma once
#include <cstdint>

namespace sr::model {

enum class MatmulPrecision : int { Tf32 = 0, Tf32x3 = 1 };

void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Sets OpenBLAS's thread count to sr::num_threads() (once; later calls do nothing).
void init_blas_threads();

#ifdef SR_WITH_CUDA
void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc, MatmulPrecision precision);
#endif

}  // namespace sr::model
