#include <cstdint>

#include "cuda/check.h"
#include "kernels/group_advantages/group_advantages.h"

namespace sr::kernels {

namespace {

constexpr int kBlock = 256;
constexpr int kGroupsPerBlock = kBlock / 32;  // one warp per group

// Fixed-order sum over the warp, then lane 0's value for everyone (a butterfly
// could leave lanes with sums differing in the last bit).
__device__ __forceinline__ double warp_sum(double v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return __shfl_sync(0xffffffffu, v, 0);
}

__global__ void __launch_bounds__(kBlock)
    group_kernel(const float* __restrict__ rewards, float* __restrict__ out, long long groups, long long k,
                 int baseline, bool scale_std, double eps) {
  const int lane = threadIdx.x & 31;
  const long long warps = static_cast<long long>(gridDim.x) * (blockDim.x >> 5);
  for (long long g = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; g < groups; g += warps) {
    const float* r = rewards + g * k;
    float* o = out + g * k;
    double s = 0;
    for (long long i = lane; i < k; i += 32) s += static_cast<double>(r[i]);
    const double mean = warp_sum(s) / static_cast<double>(k);
    double factor = baseline == static_cast<int>(GroupBaseline::LeaveOneOut)
                        ? static_cast<double>(k) / static_cast<double>(k - 1)
                        : 1.0;
    if (scale_std) {
      double m2 = 0;
      for (long long i = lane; i < k; i += 32) {
        const double d = static_cast<double>(r[i]) - mean;
        m2 += d * d;
      }
      const double denom = sqrt(warp_sum(m2) / static_cast<double>(k - 1)) + eps;
      factor = denom > 0 ? factor / denom : 0.0;
    }
    for (long long i = lane; i < k; i += 32) o[i] = static_cast<float>((static_cast<double>(r[i]) - mean) * factor);
  }
}

}  // namespace

void group_advantages_cuda(const float* rewards, float* out, int64_t batch, int64_t group_size, GroupBaseline baseline,
                           bool scale_std, double eps) {
  if (batch <= 0 || group_size <= 0) return;
  const int64_t groups = batch / group_size;
  const unsigned grid = cuda::grid_for(groups, kGroupsPerBlock);
  group_kernel<<<grid, kBlock, 0, cuda::stream()>>>(rewards, out, groups, group_size, static_cast<int>(baseline),
                                                    scale_std, eps);
  cuda::check_launch("group_advantages group_kernel");
}

}  // namespace sr::kernels
