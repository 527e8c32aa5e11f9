#include "model/ops/swiglu/swiglu.h"

#include <algorithm>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"
#include "core/simd_math.h"

namespace sr::model {

namespace {

SR_CPU_MULTIVERSION
void fwd_range(const float* __restrict g, const float* __restrict u, float* __restrict a, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.0f / (1.0f + simd::fast_exp(-g[i]));
    a[i] = g[i] * s * u[i];
  }
}

SR_CPU_MULTIVERSION
void bwd_range(const float* __restrict g, const float* __restrict u, const float* da, float* dg, float* __restrict du,
               int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.0f / (1.0f + simd::fast_exp(-g[i]));
    const float d = da[i];
    du[i] = d * g[i] * s;
    dg[i] = d * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

template <class F>
void chunked(int64_t n, F f) {
  const int64_t chunks = chunk_count(n, 1 << 14, 64);
  const int64_t size = chunk_size(n, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t b = c * size;
    f(b, std::min(n, b + size) - b);
  });
}

}  // namespace

void swiglu_forward_cpu(const float* g, const float* u, float* a, int64_t n) {
  chunked(n, [&](int64_t b, int64_t len) { fwd_range(g + b, u + b, a + b, len); });
}

void swiglu_backward_cpu(const float* g, const float* u, const float* da, float* dg, float* du, int64_t n) {
  chunked(n, [&](int64_t b, int64_t len) { bwd_range(g + b, u + b, da + b, dg + b, du + b, len); });
}

}  // namespace sr::model
