// AdamW over a list of f32 tensors (the model's parameters), in one step:
//   norm  = sqrt(sum over every tensor of sum g^2)     (f64, fixed chunks: thread-count independent)
//   c     = max_norm > 0 && norm > max_norm ? max_norm / (norm + 1e-6) : 1    (global-norm clipping)
//   g'    = c g;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//   p     = p (1 - lr wd_i) - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// (decoupled weight decay, bias correction: the update of torch.optim.AdamW).
// A non-finite norm (a NaN or inf gradient) updates nothing; the norm is returned so the caller sees it.
//
// CUDA (every pointer on the device): one table of 16384-element chunks over all tensors, built
// on the host; a kernel writes each chunk's sum of squares (f64), read back (the one host
// synchronisation: the caller asked for the norm) and added on the host in chunk order
// (deterministic); then one kernel applies the update with the CPU's f32 constants.
#pragma once
#include <cstdint>
#include <vector>

#include "core/limits.h"

namespace sr::model {

// Ranges of the hyper-parameters (checked by the binding, exported as native.limits.adamwStep; the
// TypeScript AdamW checks its options against the same numbers when it is constructed).
inline constexpr Range kAdamWLrRange = at_least(0);
inline constexpr Range kAdamWBetaRange = half_open(0, 1);  // beta1 and beta2
inline constexpr Range kAdamWEpsRange = above(0);
inline constexpr Range kAdamWWeightDecayRange = at_least(0);
inline constexpr Range kAdamWMaxNormRange = at_least(0);  // 0: no clipping
inline constexpr Range kAdamWStepRange = positive_integer();

struct AdamWTensor {
  float* param;
  const float* grad;
  float* m;
  float* v;
  int64_t n;
  float weight_decay;
};

struct AdamWHyper {
  double lr, beta1, beta2, eps, max_norm;
  int64_t step;  // 1 for the first step
};

double grad_sumsq_cpu(const float* g, int64_t n);
// Returns the gradient norm before clipping.
double adamw_step_cpu(const std::vector<AdamWTensor>& tensors, const AdamWHyper& h);

#ifdef SR_WITH_CUDA
double adamw_step_cuda(const std::vector<AdamWTensor>& tensors, const AdamWHyper& h);
#endif

}  // namespace sr::model
