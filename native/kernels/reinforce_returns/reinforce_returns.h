// REINFORCE++ token rewards and discounted returns.
//
//   L_b   = last t with mask[b, t] != 0 (a row without one gives all zeros)
//   x     = logp_old[b, t] - logp_ref[b, t]           (in double)
//   KL_t  = k1: x,  k2: x^2 / 2,  k3: exp(-x) - 1 + x  (k3 as expm1(-x) + x, exact near 0)
//   r_t   = [t == L_b] * rewards[b] - kl_coef * KL_t   on valid tokens, 0 on masked ones
//   G_t   = r_t + gamma * G_{t+1}, G_T = 0, over every position of the row
//           (masked positions carry r = 0 and pass the return on, as OpenRLHF does)
//   out[b, t] = G_t on valid tokens, 0 on masked ones
//
// rewards f32 [B]; mask u8 [B, T]; logp_old, logp_ref f32 [B, T], read only when
// kl_coef != 0 (may be null otherwise); out f32 [B, T]; one device. gamma and
// kl_coef in the ranges below (checked by the binding). Accumulation in double. NaN or
// Inf in a valid token's inputs propagates to the returns of that row at and
// before the token; masked positions are never read for the KL term.
//
// CPU: rows in parallel, a sequential reverse loop per row.
// CUDA: one warp per row, walking the row from its end in tiles of 32 tokens:
// a shuffle suffix scan inside the tile (G_i = S_i + gamma^(32 - lane) * carry),
// the tile's first return carried to the next tile; the last valid token is
// found on the way with a ballot. No host synchronisation.
#pragma once
#include <cstdint>

#include "core/limits.h"

namespace sr::kernels {

// Ranges of the parameters (checked by the binding, exported as native.limits.reinforceReturns).
inline constexpr Range kReturnsKlCoefRange = at_least(0);
inline constexpr Range kReturnsGammaRange = closed(0, 1);

enum class KlEstimator : int { K1 = 1, K2 = 2, K3 = 3 };

void reinforce_returns_cpu(const float* rewards, const uint8_t* mask, const float* logp_old, const float* logp_ref,
                           float* out, int64_t batch, int64_t tokens, double kl_coef, KlEstimator estimator,
                           double gamma);

#ifdef SR_WITH_CUDA
void reinforce_returns_cuda(const float* rewards, const uint8_t* mask, const float* logp_old, const float* logp_ref,
                            float* out, int64_t batch, int64_t tokens, double kl_coef, KlEstimator estimator,
                            double gamma);
#endif

}  // namespace sr::kernels
