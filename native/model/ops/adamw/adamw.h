// AdamW over a list of f32 tensors (the model's parameters), in one step:
//   norm  = sqrt(sum over every tensor of sum g^2)     (f64, fixed chunks: thread-count independent)
//   c     = max_norm > 0 && norm > max_norm ? max_norm / (norm + 1e-6) : 1    (global-norm clipping)
//   g'    = c g;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//   p     = p (1 - lr wd_i) - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// (decoupled weight decay, bias correction: the update of torch.optim.AdamW).
// A non-finite norm (a NaN or inf gradient) updates nothing; the norm is returned so the caller sees it.
#pragma once
#include <cstdint>
#include <vector>

namespace sr::model {

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

}  // namespace sr::model
