// Fused policy-gradient loss of StableReinforce (Pre-CLIP + PPO clip, optional
// dual clip and KL penalty): loss and its gradient w.r.t. logp_new in one pass.
//
// Shapes: logp_new, logp_old, logp_ref f32 [B, T]; advantages f32 [B, T] or [B]
// (broadcast over T); mask u8 [B, T], a token is valid when mask != 0 (no mask:
// all valid). All on one device. For every valid token:
//   d  = logp_new - logp_old                      (f32)
//   c  = clamp(d, log_min, log_max);  r = exp(c)  (Pre-CLIP)
//   l  = -min(r*A, clamp(r, clip_low, clip_high)*A)
//   dual clip (dual_clip > 1, A < 0): l = -max(min(...), dual_clip*A), i.e. -dual_clip*A when r > dual_clip
//   KL (kl_coef > 0): l += kl_coef * k(x), x = logp_new - logp_ref,
//     k1 = x, k2 = x^2/2, k3 = exp(-x) - 1 + x with x clamped to [-10, 10] (so k3 cannot overflow)
// Aggregation: loss = inv_norm * sum_b u_b * sum_t l, the per-token weight is w = u_b * inv_norm:
//   token-mean           u_b = 1,       inv_norm = 1 / (normalizer or number of valid tokens)
//   seq-mean-token-mean  u_b = 1 / n_b, inv_norm = 1 / (normalizer or number of rows with n_b >= 1)
//   seq-mean-token-sum   u_b = 1,       inv_norm = 1 / (normalizer or number of rows with n_b >= 1)
// grad = w * dl/dlogp_new, 0 at masked tokens. Kinks follow torch.clamp: at an exact bound the gradient
// passes (d == log_min or log_max, r == clip_low or clip_high, x == +-10). The PPO clip is "active" when it
// changes the loss: (A > 0 and r > clip_high) or (A < 0 and r < clip_low); the dual clip when A < 0 and
// r > dual_clip (at r == dual_clip torch.max would split the gradient in halves; here it passes whole).
// Masked tokens are never read into the results, whatever they hold (NaN/Inf included). A valid token whose
// loss term is NaN gets a NaN gradient; a valid token whose loss term or gradient is not finite is counted
// in non_finite (and makes the loss NaN or infinite), so a trainer can skip the step. Rows with no valid
// token contribute nothing; no valid token at all gives loss 0 and grad 0.
// Stats are over valid tokens (plain means, not the aggregation's weights); with no valid token they are 0.
// ratio_max is NaN when some valid ratio is NaN.
//
// CPU: a u8 pass counting valid tokens per row, then one pass over fixed chunks (deterministic).
// CUDA: row-count and row-norm kernels, one fused grid-stride kernel writing grad and per-block partials,
// one reduce kernel; the only host synchronisation is the final read-back of the sums.
#pragma once
#include <cstdint>

#include "core/limits.h"
#include "kernels/preclip_ratio/preclip_ratio.h"  // kPreClipRatioRange: min_ratio and max_ratio

#ifdef __CUDACC__
#define SR_PL_HD __host__ __device__
#else
#define SR_PL_HD
#endif

namespace sr::kernels {

// Ranges of the binding's parameters (exported as native.limits.policyLoss); the ratio bounds are Pre-CLIP's
// (kPreClipRatioRange, with min_ratio < max_ratio), and logp_ref is required when kl_coef > 0.
inline constexpr Range kClipEpsRange = closed(0, 1);     // clip_low = 1 - clip_eps
inline constexpr Range kClipEpsHighRange = at_least(0);  // clip_high = 1 + clip_eps_high
inline constexpr Range kDualClipRange = above(1);        // when given
inline constexpr Range kPolicyKlCoefRange = at_least(0);
inline constexpr Range kNormalizerRange = above(0);  // when given

enum class LossAggregation : int { SeqMeanTokenMean = 0, TokenMean = 1, SeqMeanTokenSum = 2 };
enum class KlEstimator : int { None = 0, K1 = 1, K2 = 2, K3 = 3 };  // None: no logp_ref given

struct PolicyLossParams {
  int64_t rows = 0, cols = 0;  // B, T
  bool adv_per_row = false;    // advantages has shape [B]
  float log_min = 0, log_max = 0;
  float clip_low = 0, clip_high = 0;  // 1 - clipEps, 1 + clipEpsHigh
  float dual_clip = 0;                // > 1; +inf when off
  float kl_coef = 0;                  // >= 0; KL stats are computed whenever kl != None
  KlEstimator kl = KlEstimator::None;
  LossAggregation aggregation = LossAggregation::SeqMeanTokenMean;
  double normalizer = 0;  // > 0 replaces the token/row count; 0: use the count
};

struct PolicyLossInputs {
  const float* logp_new = nullptr;
  const float* logp_old = nullptr;
  const float* advantages = nullptr;
  const uint8_t* mask = nullptr;    // may be null
  const float* logp_ref = nullptr;  // null iff kl == None
  float* grad = nullptr;
};

// Raw sums a backend produces; policy_loss_finalize turns them into the result.
struct PolicyLossSums {
  double loss_u = 0;     // sum over valid tokens of u_b * l
  double ratio = 0;      // sum of r
  double approx_kl = 0;  // sum of (r - 1) - c
  double kl = 0;         // sum of k(x)
  float ratio_max = 0;
  int64_t clipped = 0, pre_clipped = 0, non_finite = 0;
  int64_t valid_tokens = 0, valid_rows = 0;
};

struct PolicyLossResult {
  double loss = 0;
  double clip_fraction = 0, pre_clip_fraction = 0, ratio_mean = 0, ratio_max = 0, approx_kl = 0, kl_mean = 0;
  int64_t valid_tokens = 0, valid_sequences = 0, non_finite = 0;
};

PolicyLossResult policy_loss_cpu(const PolicyLossInputs& in, const PolicyLossParams& p);
#ifdef SR_WITH_CUDA
PolicyLossResult policy_loss_cuda(const PolicyLossInputs& in, const PolicyLossParams& p);
#endif

PolicyLossResult policy_loss_finalize(const PolicyLossSums& s, const PolicyLossParams& p);

// 1 / (the aggregation's normaliser); 0 when there is nothing to normalise.
SR_PL_HD inline double policy_loss_inv_norm(const PolicyLossParams& p, int64_t valid_tokens, int64_t valid_rows) {
  if (p.normalizer > 0) return 1.0 / p.normalizer;
  const int64_t n = p.aggregation == LossAggregation::TokenMean ? valid_tokens : valid_rows;
  return n > 0 ? 1.0 / static_cast<double>(n) : 0.0;
}

// ---- The per-token math, shared by both backends (exp_fn: simd::fast_exp on CPU, expf on CUDA). ----
// Written with compares and selects (no branches) so the CPU loop vectorises and NaN propagates.

struct PolicyLossToken {
  float loss;        // l
  float dloss;       // dl/dlogp_new (not yet weighted); NaN when l is NaN
  float ratio;       // r
  float approx_kl;   // (r - 1) - c
  float kl;          // k(x), 0 without logp_ref
  bool clipped;      // PPO clip active
  bool pre_clipped;  // d outside [log_min, log_max]
};

template <KlEstimator K, class Exp>
SR_PL_HD inline PolicyLossToken policy_loss_token(float ln, float lold, float a, float lref, const PolicyLossParams& p,
                                                  Exp exp_fn) {
  PolicyLossToken t;
  const float d = ln - lold;
  float c = d < p.log_min ? p.log_min : d;
  c = c > p.log_max ? p.log_max : c;
  const bool below = d<p.log_min, above = d> p.log_max;
  const bool inside = (d >= p.log_min) & (d <= p.log_max);  // false for NaN
  const float r = exp_fn(c);
  float rc = r < p.clip_low ? p.clip_low : r;
  rc = rc > p.clip_high ? p.clip_high : rc;
  const float s1 = r * a, s2 = rc * a;
  const float m = s1 < s2 ? s1 : s2;
  const bool clipped = ((a > 0.0f) & (r > p.clip_high)) | ((a < 0.0f) & (r < p.clip_low));
  const bool dual = (a < 0.0f) & (r > p.dual_clip);
  float l = dual ? -(p.dual_clip * a) : -m;
  float g = (inside & !clipped & !dual) ? -(a * r) : 0.0f;
  float k = 0.0f;
  if constexpr (K != KlEstimator::None) {
    const float x = ln - lref;
    float gk;
    if constexpr (K == KlEstimator::K1) {
      k = x;
      gk = 1.0f;
    } else if constexpr (K == KlEstimator::K2) {
      k = 0.5f * x * x;
      gk = x;
    } else {
      float xc = x < -10.0f ? -10.0f : x;
      xc = xc > 10.0f ? 10.0f : xc;
      const float e = exp_fn(-xc);
      k = (e - 1.0f) + xc;
      gk = ((x >= -10.0f) & (x <= 10.0f)) ? 1.0f - e : 0.0f;
    }
    // A select, not kl_coef * k: with kl_coef == 0 an infinite k must not turn the loss into NaN.
    const bool use = p.kl_coef != 0.0f;
    l = use ? l + p.kl_coef * k : l;
    g = use ? g + p.kl_coef * gk : g;
  }
  t.loss = l;
  t.dloss = l != l ? l : g;
  t.ratio = r;
  t.approx_kl = (r - 1.0f) - c;
  t.kl = k;
  t.clipped = clipped;
  t.pre_clipped = below | above;
  return t;
}

}  // namespace sr::kernels
