// x86-64 micro-kernels of the built-in GEMM (gemm_cpu.h), compiled with
// function-level target attributes so the binary stays baseline x86-64; the
// driver picks one at run time from the CPU's features.
//   avx512: 12 x 32 tile = 24 zmm accumulators, 2 B loads + 12 broadcasts per k.
//   avx2:    6 x 16 tile = 12 ymm accumulators, 2 B loads +  6 broadcasts per k.
#include "model/ops/matmul/gemm_cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

namespace sr::model::cpugemm {
namespace {

constexpr int kMr512 = 12, kNr512 = 32;

__attribute__((target("avx512f"))) void micro_avx512(int64_t kc, const float* ap, const float* bp, float* c,
                                                     int64_t ldc, float alpha, float beta, int64_t m, int64_t n) {
  __m512 acc[kMr512][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMr512; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(bp);
    const __m512 b1 = _mm512_loadu_ps(bp + 16);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 8 * kNr512), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int i = 0; i < kMr512; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += kMr512;
    bp += kNr512;
  }
  // The N edge with lane masks (masked lanes are neither read nor written); the M edge by row count.
  const __mmask16 m0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
  const __mmask16 m1 = n >= 32 ? __mmask16(0xFFFF) : n <= 16 ? __mmask16(0) : __mmask16((1u << (n - 16)) - 1u);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int i = 0; i < kMr512; ++i) {
    if (i >= m) break;
    float* cr = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc[i][0]);
    __m512 r1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), r1);
    }
    _mm512_mask_storeu_ps(cr, m0, r0);
    _mm512_mask_storeu_ps(cr + 16, m1, r1);
  }
}

constexpr int kMr256 = 6, kNr256 = 16;

__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc,
                                                    float alpha, float beta, int64_t m, int64_t n) {
  __m256 acc[kMr256][2];
#pragma GCC unroll 6
  for (int i = 0; i < kMr256; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(bp);
    const __m256 b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < kMr256; ++i) {
      const __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += kMr256;
    bp += kNr256;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (m == kMr256 && n == kNr256) {
#pragma GCC unroll 6
    for (int i = 0; i < kMr256; ++i) {
      float* cr = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, acc[i][0]);
      __m256 r1 = _mm256_mul_ps(va, acc[i][1]);
      if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), r1);
      }
      _mm256_storeu_ps(cr, r0);
      _mm256_storeu_ps(cr + 8, r1);
    }
    return;
  }
  alignas(32) float tile[kMr256 * kNr256];
#pragma GCC unroll 6
  for (int i = 0; i < kMr256; ++i) {
    _mm256_store_ps(tile + i * kNr256, acc[i][0]);
    _mm256_store_ps(tile + i * kNr256 + 8, acc[i][1]);
  }
  store_tile(tile, kNr256, c, ldc, alpha, beta, m, n);
}

bool os_has_avx512() { return __builtin_cpu_supports("avx512f"); }
bool os_has_avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace

const Kernel* avx512_kernel() {
  // kc 256: a 32-wide B sliver is 32 KiB (L1); mc 144: the packed A block is 144 KiB (L2).
  static const Kernel k{"avx512", kMr512, kNr512, 256, 144, 256, micro_avx512};
  static const bool ok = (__builtin_cpu_init(), os_has_avx512());
  return ok ? &k : nullptr;
}

const Kernel* avx2_kernel() {
  static const Kernel k{"avx2", kMr256, kNr256, 256, 120, 256, micro_avx2};
  static const bool ok = (__builtin_cpu_init(), os_has_avx2());
  return ok ? &k : nullptr;
}

}  // namespace sr::model::cpugemm

#else  // not x86-64: only the portable kernel exists

namespace sr::model::cpugemm {
const Kernel* avx512_kernel() { return nullptr; }
const Kernel* avx2_kernel() { return nullptr; }
}  // namespace sr::model::cpugemm

#endif
