// Dense matrix products of the built-in model: row-major single-precision GEMM
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(X) = X or X^T; lda/ldb/ldc are row strides (elements). A product with M or
// N = 0 does nothing; with K = 0 it sets C = beta * C. beta = 0 never reads C
// (so C may hold NaN or garbage), like BLAS.
//
// CPU: the built-in GEMM (gemm_cpu.h: packed panels, cache blocking, AVX-512 /
// AVX2+FMA / portable micro-kernels chosen at run time, threads over the core's
// pool). Bit-identical results for any thread count with a given kernel. alpha
// = 0 sets C = beta * C without reading A or B (like the reference BLAS).
// Optionally OpenBLAS, loaded at run time when present (SR_GEMM=openblas or
// set_cpu_gemm): never linked, so the addon loads without it.
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
#include <string>
#include <vector>

namespace sr::model {

enum class MatmulPrecision : int { Tf32 = 0, Tf32x3 = 1 };

void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

namespace cpugemm {
struct Kernel;
}

// The built-in GEMM with a given micro-kernel (tests and benchmarks; gemm_cpu uses the chosen one).
void gemm_builtin(const cpugemm::Kernel& kernel, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc);

// The kernel named "avx512", "avx2", "generic" or "auto" (the best this CPU runs); null if unavailable.
const cpugemm::Kernel* cpu_gemm_kernel(const std::string& name);

// Chooses the engine of gemm_cpu for the whole process: engine "builtin" | "openblas", kernel as above.
// Throws std::invalid_argument (saying why) if the engine or kernel is unavailable. The environment sets the
// initial choice: SR_GEMM=builtin|openblas, SR_GEMM_KERNEL=auto|avx512|avx2|generic.
void set_cpu_gemm(const std::string& engine, const std::string& kernel);

struct CpuGemmInfo {
  std::string engine, kernel, best_kernel;
  std::vector<std::string> kernels;  // the micro-kernels this CPU runs
  bool openblas_available = false;
  std::string openblas_path, openblas_reason;
  std::string note;  // an environment setting that was not followed, and why
};
CpuGemmInfo cpu_gemm_info();

#ifdef SR_WITH_CUDA
void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc, MatmulPrecision precision);
#endif

}  // namespace sr::model
