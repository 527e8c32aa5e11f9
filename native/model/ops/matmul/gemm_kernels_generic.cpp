// The portable micro-kernel of the built-in GEMM (gemm_cpu.h): plain loops the
// compiler vectorises (SSE2 on baseline x86-64, NEON on ARM64). Used where no
// wider x86 kernel applies, and selectable for tests (SR_GEMM_KERNEL=generic).
#include "model/ops/matmul/gemm_cpu.h"

namespace sr::model::cpugemm {
namespace {

constexpr int kMr = 4, kNr = 16;

void micro_generic(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta,
                   int64_t m, int64_t n) {
  float acc[kMr * kNr] = {};
  for (int64_t k = 0; k < kc; ++k) {
    for (int i = 0; i < kMr; ++i) {
      const float a = ap[i];
#pragma omp simd
      for (int j = 0; j < kNr; ++j) acc[i * kNr + j] += a * bp[j];
    }
    ap += kMr;
    bp += kNr;
  }
  store_tile(acc, kNr, c, ldc, alpha, beta, m, n);
}

}  // namespace

const Kernel& generic_kernel() {
  static const Kernel k{"generic", kMr, kNr, 256, 128, 256, micro_generic};
  return k;
}

}  // namespace sr::model::cpugemm
