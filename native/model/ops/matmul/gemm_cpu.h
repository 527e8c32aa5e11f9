// The built-in CPU GEMM (no BLAS library needed): the packing/blocking driver
// in matmul_cpu.cpp and the register-blocked micro-kernels it calls.
//
// Layout (BLIS-style): C is cut into blocks of mc x nb; for each K block of kc,
// op(A)'s block is packed into row slivers of mr (Ap[k][i], k-major) and op(B)'s
// into column slivers of nr (Bp[k][j]), zero-padded to mr / nr. A micro-kernel
// computes one mr x nr tile of C over kc in registers (FMA in k order) and then
// writes C = alpha * acc + beta * C for the tile's valid m x n corner.
//
// Every element of C is the same sequence of FMAs (k ascending, one K block
// after another) whatever the blocking, the thread count or which thread ran
// it: results are bit-identical for any thread count on a given kernel.
#pragma once
#include <cstdint>

namespace sr::model::cpugemm {

// acc = sum_k ap[k*mr + i] * bp[k*nr + j] for the full mr x nr tile, then
// c[i*ldc + j] = alpha * acc + beta * c[i*ldc + j] for i < m, j < n; beta == 0
// never reads c.
using MicroKernel = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                             float beta, int64_t m, int64_t n);

struct Kernel {
  const char* name;  // "avx512", "avx2", "generic"
  int mr, nr;        // register tile
  int64_t kc;        // K block: an nr-wide B sliver of kc rows stays in L1
  int64_t mc;        // rows of C per block (multiple of mr): the packed A block stays in L2
  int64_t nb;        // columns of C per block (multiple of nr)
  MicroKernel fn;
};

// The kernels compiled into this binary for this architecture; null where the
// CPU lacks the instructions (checked at run time: one binary for every x86-64).
const Kernel* avx512_kernel();
const Kernel* avx2_kernel();
const Kernel& generic_kernel();

// Writes the valid m x n corner of an mr x nr tile held in `acc` (row stride
// nr) to C with alpha/beta (beta == 0 never reads C): the shared edge path.
inline void store_tile(const float* acc, int nr, float* c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    float* cr = c + i * ldc;
    const float* ar = acc + i * nr;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < n; ++j) cr[j] = alpha * ar[j];
    } else {
      for (int64_t j = 0; j < n; ++j) cr[j] = alpha * ar[j] + beta * cr[j];
    }
  }
}

}  // namespace sr::model::cpugemm
