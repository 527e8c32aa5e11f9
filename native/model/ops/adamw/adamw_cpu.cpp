#include "model/ops/adamw/adamw.h"

#include <algorithm>
#include <cmath>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"

namespace sr::model {

namespace {

SR_CPU_MULTIVERSION
double sumsq_range(const float* __restrict g, int64_t n) {
  double s = 0.0;
  float part = 0.0f;
  // f32 partial sums of 256 values, added in f64: vectorises, and no drift on long tensors.
  for (int64_t b = 0; b < n; b += 256) {
    part = 0.0f;
    const int64_t e = std::min(n, b + 256);
#pragma omp simd reduction(+ : part)
    for (int64_t i = b; i < e; ++i) part += g[i] * g[i];
    s += part;
  }
  return s;
}

SR_CPU_MULTIVERSION
void update_range(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v, int64_t n,
                  float c, float b1, float b2, float lr_bc1, float inv_sqrt_bc2, float eps, float decay) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * c;
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - lr_bc1 * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

}  // namespace

double grad_sumsq_cpu(const float* g, int64_t n) {
  const int64_t chunks = chunk_count(n, 1 << 14, 64);
  if (chunks == 0) return 0.0;
  const int64_t size = chunk_size(n, chunks);
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t b = c * size;
    part[c] = sumsq_range(g + b, std::min(n, b + size) - b);
  });
  double s = 0.0;
  for (double x : part) s += x;
  return s;
}

double adamw_step_cpu(const std::vector<AdamWTensor>& tensors, const AdamWHyper& h) {
  double ss = 0.0;
  for (const auto& t : tensors) ss += grad_sumsq_cpu(t.grad, t.n);
  const double norm = std::sqrt(ss);
  if (!std::isfinite(norm)) return norm;
  const float c = h.max_norm > 0 && norm > h.max_norm ? static_cast<float>(h.max_norm / (norm + 1e-6)) : 1.0f;
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  const float lr_bc1 = static_cast<float>(h.lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  for (const auto& t : tensors) {
    const float decay = static_cast<float>(1.0 - h.lr * t.weight_decay);
    const int64_t chunks = chunk_count(t.n, 1 << 14, 64);
    const int64_t size = chunk_size(t.n, chunks);
    parallel_for(chunks, [&](int64_t k) {
      const int64_t b = k * size;
      update_range(t.param + b, t.grad + b, t.m + b, t.v + b, std::min(t.n, b + size) - b, c,
                   static_cast<float>(h.beta1), static_cast<float>(h.beta2), lr_bc1, inv_sqrt_bc2,
                   static_cast<float>(h.eps), decay);
    });
  }
  return norm;
}

}  // namespace sr::model
