#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <vector>

#include "bench/fma_peak.h"
#include "core/parallel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace sr::bench {
namespace {

constexpr int kChains = 16;     // AVX-512: 32 registers
constexpr int kChains256 = 12;  // AVX2: 16 registers, 2 hold the operands
std::atomic<float> sink{0.0f};  // keeps the loops' results alive

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) double loop_avx512(int64_t iters) {
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_set1_ps(1.0f);
  const __m512 x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(-1e-7f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  alignas(64) float out[16];
  __m512 s = acc[0];
  for (int i = 1; i < kChains; ++i) s = _mm512_add_ps(s, acc[i]);
  _mm512_store_ps(out, s);
  sink.store(out[0], std::memory_order_relaxed);
  return 2.0 * 16 * kChains * static_cast<double>(iters);
}

__attribute__((target("avx2,fma"))) double loop_avx2(int64_t iters) {
  __m256 acc[kChains256];
  for (auto& a : acc) a = _mm256_set1_ps(1.0f);
  const __m256 x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(-1e-7f);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kChains256; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  alignas(32) float out[8];
  __m256 s = acc[0];
  for (int i = 1; i < kChains256; ++i) s = _mm256_add_ps(s, acc[i]);
  _mm256_store_ps(out, s);
  sink.store(out[0], std::memory_order_relaxed);
  return 2.0 * 8 * kChains256 * static_cast<double>(iters);
}
#endif

using Loop = double (*)(int64_t);

Loop loop_for(const std::string& kernel) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (kernel == "avx512" && __builtin_cpu_supports("avx512f")) return loop_avx512;
  if (kernel == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return loop_avx2;
#endif
  throw std::invalid_argument("kernel '" + kernel + "' has no FMA peak on this CPU (avx512 or avx2 where present)");
}

}  // namespace

double fma_peak_cpu(const std::string& kernel, bool all_threads, double seconds, int repeats) {
  const Loop loop = loop_for(kernel);
  const int threads = all_threads ? num_threads() : 1;
  // Calibrate the iteration count on one thread, then time every thread running it at once.
  int64_t iters = 1 << 16;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > seconds / 8 || iters > (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(s, 1e-9));
      break;
    }
    iters *= 4;
  }
  std::vector<double> rates;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    std::vector<double> flops(threads, 0.0);
    auto t0 = std::chrono::steady_clock::now();
    parallel_for(threads, [&](int64_t c) { flops[c] = loop(iters); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0;
    for (double f : flops) total += f;
    rates.push_back(total / s / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace sr::bench
