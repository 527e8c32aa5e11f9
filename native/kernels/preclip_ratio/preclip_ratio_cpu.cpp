#include "kernels/preclip_ratio/preclip_ratio.h"

#include "core/cpu_dispatch.h"
#include "core/parallel.h"
#include "core/simd_math.h"

namespace sr::kernels {

namespace {

SR_CPU_MULTIVERSION
void preclip_ratio_range(const float* __restrict a, const float* __restrict b, float* __restrict out, int64_t n,
                         float lo, float hi) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    float d = a[i] - b[i];
    d = d < lo ? lo : d;
    d = d > hi ? hi : d;
    out[i] = simd::fast_exp(d);
  }
}

}  // namespace

void preclip_ratio_cpu(const float* logp_new, const float* logp_old, float* ratio, int64_t n, float log_min,
                       float log_max) {
  const int64_t chunks = chunk_count(n, 1 << 15, 256);
  const int64_t size = chunk_size(n, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t begin = c * size;
    const int64_t end = begin + size < n ? begin + size : n;
    preclip_ratio_range(logp_new + begin, logp_old + begin, ratio + begin, end - begin, log_min, log_max);
  });
}

}  // namespace sr::kernels
