#include "model/ops/rope/rope.h"

#include <algorithm>
#include <cmath>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"

namespace sr::model {

void rope_tables(int max_pos, int hd, double theta, std::vector<float>* cos_t, std::vector<float>* sin_t) {
  const int half = hd / 2;
  cos_t->assign(static_cast<size_t>(max_pos) * half, 0.0f);
  sin_t->assign(static_cast<size_t>(max_pos) * half, 0.0f);
  for (int p = 0; p < max_pos; ++p)
    for (int i = 0; i < half; ++i) {
      const double a = p * std::pow(theta, -2.0 * i / hd);
      (*cos_t)[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
      (*sin_t)[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
    }
}

namespace {

SR_CPU_MULTIVERSION
void rotate_rows(float* x, const int32_t* pos, int64_t r0, int64_t r1, int heads, int hd, int64_t stride,
                 const float* cos_t, const float* sin_t, float sign) {
  const int half = hd / 2;
  for (int64_t r = r0; r < r1; ++r) {
    const float* c = cos_t + static_cast<int64_t>(pos[r]) * half;
    const float* s = sin_t + static_cast<int64_t>(pos[r]) * half;
    for (int h = 0; h < heads; ++h) {
      float* __restrict a = x + r * stride + static_cast<int64_t>(h) * hd;
      float* __restrict b = a + half;
#pragma omp simd
      for (int i = 0; i < half; ++i) {
        const float si = sign * s[i];
        const float x1 = a[i], x2 = b[i];
        a[i] = x1 * c[i] - x2 * si;
        b[i] = x2 * c[i] + x1 * si;
      }
    }
  }
}

}  // namespace

void rope_apply_cpu(float* x, const int32_t* pos, int64_t rows, int heads, int hd, int64_t stride, const float* cos_t,
                    const float* sin_t, bool inverse) {
  const int64_t chunks = chunk_count(rows, 32, 64);
  const int64_t size = chunk_size(rows, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t r0 = c * size, r1 = std::min(rows, r0 + size);
    rotate_rows(x, pos, r0, r1, heads, hd, stride, cos_t, sin_t, inverse ? -1.0f : 1.0f);
  });
}

}  // namespace sr::model
