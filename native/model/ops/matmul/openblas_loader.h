// OpenBLAS as an optional engine of the CPU matrix products, loaded at run time
// (dlopen): the addon never links a BLAS, so it loads on machines without one.
#pragma once
#include <cstdint>
#include <string>

namespace sr::model::openblas {

using SgemmFn = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                         const float* b, int ldb, float beta, float* c, int ldc);

struct Library {
  SgemmFn sgemm = nullptr;  // cblas_sgemm, null when no usable libopenblas was found
  std::string path;         // the file that was loaded
  std::string reason;       // why it is unavailable
};

// Tries SR_OPENBLAS_PATH, then libopenblas.so.0 / libopenblas.so on the loader's search path, once; sets
// OpenBLAS's own thread count to sr::num_threads().
const Library& library();

// cblas_sgemm in row-major order (library().sgemm must be non-null; sizes must fit an int).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace sr::model::openblas
