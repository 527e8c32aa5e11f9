#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "kernels/group_advantages/group_advantages.h"

namespace sr::kernels {

namespace {

void one_group(const float* r, float* out, int64_t k, GroupBaseline baseline, bool scale_std, double eps) {
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += r[i];
  const double mean = sum / static_cast<double>(k);
  // Leave-one-out: r - (sum - r) / (k - 1) = (r - mean) * k / (k - 1), without the cancellation.
  double factor = baseline == GroupBaseline::LeaveOneOut ? static_cast<double>(k) / static_cast<double>(k - 1) : 1.0;
  if (scale_std) {
    double m2 = 0;  // second pass: exact for offsets, unlike sum(r^2) - k * mean^2
    for (int64_t i = 0; i < k; ++i) {
      const double d = r[i] - mean;
      m2 += d * d;
    }
    const double denom = std::sqrt(m2 / static_cast<double>(k - 1)) + eps;
    factor = denom > 0 ? factor / denom : 0.0;
  }
  for (int64_t i = 0; i < k; ++i) out[i] = static_cast<float>((r[i] - mean) * factor);
}

}  // namespace

void group_advantages_cpu(const float* rewards, float* out, int64_t batch, int64_t group_size, GroupBaseline baseline,
                          bool scale_std, double eps) {
  if (batch <= 0 || group_size <= 0) return;
  const int64_t groups = batch / group_size;
  const int64_t chunks = chunk_count(groups, std::max<int64_t>(1, 8192 / group_size), 1024);
  const int64_t size = chunk_size(groups, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t end = std::min(groups, (c + 1) * size);
    for (int64_t g = c * size; g < end; ++g) {
      one_group(rewards + g * group_size, out + g * group_size, group_size, baseline, scale_std, eps);
    }
  });
}

}  // namespace sr::kernels
