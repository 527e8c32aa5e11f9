#include "cuda/check.h"
#include "kernels/preclip_ratio/preclip_ratio.h"

namespace sr::kernels {

namespace {

__global__ void preclip_ratio_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                     long long n, float lo, float hi) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float d = a[i] - b[i];
    d = d < lo ? lo : d;  // written with compares so that NaN propagates
    d = d > hi ? hi : d;
    out[i] = expf(d);
  }
}

}  // namespace

void preclip_ratio_cuda(const float* logp_new, const float* logp_old, float* ratio, int64_t n, float log_min,
                        float log_max) {
  if (n == 0) return;
  constexpr int kBlock = 256;
  preclip_ratio_kernel<<<cuda::grid_for(n, kBlock), kBlock, 0, cuda::stream()>>>(logp_new, logp_old, ratio, n, log_min,
                                                                                 log_max);
  cuda::check_launch("preclip_ratio_kernel");
}

}  // namespace sr::kernels
