#include <cstdint>

#include "cuda/check.h"
#include "kernels/reinforce_returns/reinforce_returns.h"

namespace sr::kernels {

namespace {

constexpr int kBlock = 256;
constexpr int kRowsPerBlock = kBlock / 32;  // one warp per row

__device__ __forceinline__ double kl_term(float old_lp, float ref_lp, int estimator) {
  const double x = static_cast<double>(old_lp) - static_cast<double>(ref_lp);
  if (estimator == static_cast<int>(KlEstimator::K1)) return x;
  if (estimator == static_cast<int>(KlEstimator::K2)) return 0.5 * x * x;
  return expm1(-x) + x;  // k3; expm1 keeps it accurate for small x
}

// Each warp owns rows warp, warp + warps, ...; within a row it walks tiles of
// 32 tokens from the end. Cost per row: ceil(T / 32) dependent tile steps of
// 5 shuffle rounds, so a row of 4096 tokens takes 128 steps; rows run in parallel.
__global__ void __launch_bounds__(kBlock)
    returns_kernel(const float* __restrict__ rewards, const uint8_t* __restrict__ mask,
                   const float* __restrict__ old_lp, const float* __restrict__ ref_lp, float* __restrict__ out,
                   long long B, long long T, double kl_coef, int estimator, double gamma) {
  const unsigned full = 0xffffffffu;
  const int lane = threadIdx.x & 31;
  const long long warps = static_cast<long long>(gridDim.x) * (blockDim.x >> 5);
  const long long first_row = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const bool use_kl = kl_coef != 0.0;
  // gamma^d for the scan offsets, and gamma^(32 - lane) to bring in the carry.
  double gpow[5];
  gpow[0] = gamma;
  for (int k = 1; k < 5; ++k) gpow[k] = gpow[k - 1] * gpow[k - 1];
  double carry_scale = 1.0;
  for (int k = 0; k < 32 - lane; ++k) carry_scale *= gamma;

  for (long long row = first_row; row < B; row += warps) {  // uniform across the warp
    const long long base = row * T;
    const double reward = static_cast<double>(rewards[row]);
    double carry = 0.0;  // G at the first token of the tile to the right
    bool found = false;  // last valid token seen
    for (long long end = T; end > 0; end -= 32) {
      const long long t = end - 32 + lane;
      const bool in = t >= 0;
      const bool valid = in && mask[base + t] != 0;
      const unsigned ballot = __ballot_sync(full, valid);
      double r = 0.0;
      if (!found && ballot) {
        if (lane == 31 - __clz(ballot)) r = reward;
        found = true;
      }
      if (valid && use_kl) r -= kl_coef * kl_term(old_lp[base + t], ref_lp[base + t], estimator);
        // Inclusive suffix scan: after offset d, s covers [t, t + 2d - 1] of this tile.
#pragma unroll
      for (int k = 0; k < 5; ++k) {
        const int d = 1 << k;
        const double o = __shfl_down_sync(full, r, d);
        if (lane + d < 32) r += gpow[k] * o;
      }
      const double g = r + carry_scale * carry;
      if (in) out[base + t] = valid ? static_cast<float>(g) : 0.0f;
      carry = __shfl_sync(full, g, 0);
    }
  }
}

}  // namespace

void reinforce_returns_cuda(const float* rewards, const uint8_t* mask, const float* logp_old, const float* logp_ref,
                            float* out, int64_t batch, int64_t tokens, double kl_coef, KlEstimator estimator,
                            double gamma) {
  if (batch <= 0 || tokens <= 0) return;
  const unsigned grid = cuda::grid_for(batch, kRowsPerBlock);
  returns_kernel<<<grid, kBlock, 0, cuda::stream()>>>(rewards, mask, logp_old, logp_ref, out, batch, tokens, kl_coef,
                                                      static_cast<int>(estimator), gamma);
  cuda::check_launch("reinforce_returns returns_kernel");
}

}  // namespace sr::kernels
