#include "model/ops/rmsnorm/rmsnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"

namespace sr::model {

namespace {

SR_CPU_MULTIVERSION
void forward_rows(const float* __restrict x, const float* __restrict w, float* __restrict y, float* __restrict inv,
                  int64_t r0, int64_t r1, int64_t d, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
    const float s = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    inv[r] = s;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * s * w[j];
  }
}

SR_CPU_MULTIVERSION
void backward_rows(const float* __restrict x, const float* __restrict w, const float* __restrict inv,
                   const float* __restrict dy, float* __restrict dx, float* __restrict dw_part, int64_t r0, int64_t r1,
                   int64_t d, bool accumulate) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    const float* gr = dy + r * d;
    float* out = dx + r * d;
    const float s = inv[r];
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < d; ++j) dot += gr[j] * w[j] * xr[j] * s;
    const float mean = dot / static_cast<float>(d);
    if (accumulate) {
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) out[j] += s * (gr[j] * w[j] - xr[j] * s * mean);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) out[j] = s * (gr[j] * w[j] - xr[j] * s * mean);
    }
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) dw_part[j] += gr[j] * xr[j] * s;
  }
}

}  // namespace

void rmsnorm_forward_cpu(const float* x, const float* w, float* y, float* inv, int64_t rows, int64_t d, float eps) {
  const int64_t chunks = chunk_count(rows, 16, 64);
  const int64_t size = chunk_size(rows, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t r0 = c * size, r1 = std::min(rows, r0 + size);
    forward_rows(x, w, y, inv, r0, r1, d, eps);
  });
}

void rmsnorm_backward_cpu(const float* x, const float* w, const float* inv, const float* dy, float* dx, float* dw,
                          int64_t rows, int64_t d, bool accumulate_dx) {
  const int64_t chunks = chunk_count(rows, 32, 32);
  if (chunks == 0) return;
  const int64_t size = chunk_size(rows, chunks);
  std::vector<float> part(static_cast<size_t>(chunks * d), 0.0f);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t r0 = c * size, r1 = std::min(rows, r0 + size);
    backward_rows(x, w, inv, dy, dx, part.data() + c * d, r0, r1, d, accumulate_dx);
  });
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < d; ++j) dw[j] += part[c * d + j];
}

}  // namespace sr::model
