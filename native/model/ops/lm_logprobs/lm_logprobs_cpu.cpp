#include "model/ops/lm_logprobs/lm_logprobs.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/token_logprobs/token_logprobs.h"

namespace sr::model {

void check_lm_status(const kernels::TokenLogprobsStatus& st) {
  if (st.bad_token_row >= 0)
    throw_range("token " + std::to_string(st.bad_token_value) + " at row " + std::to_string(st.bad_token_row) +
                " is outside the vocabulary");
}

float row_logsumexp(const float* x, int64_t V, float it) {
  float mx = -INFINITY;
  for (int64_t v = 0; v < V; ++v) mx = x[v] * it > mx ? x[v] * it : mx;
  double s = 0.0;
  for (int64_t v = 0; v < V; ++v) s += std::exp(static_cast<double>(x[v] * it - mx));
  return mx + static_cast<float>(std::log(s));
}

void lm_logprobs_forward_cpu(const float* logits, const int32_t* tokens, int64_t rows, int64_t V, float temperature,
                             float* logprobs, float* entropy) {
  // 1/T as one f32, the same value the sampler and the backward use.
  check_lm_status(kernels::token_logprobs_cpu(logits, false, tokens, rows, V, 1.0f / temperature, logprobs, entropy));
}

void lm_logprobs_backward_cpu(const float* logits, const int32_t* tokens, const float* grad, const float* grad_entropy,
                              int64_t rows, int64_t V, float temperature, float* dlogits) {
  check_lm_status(kernels::token_logprobs_backward_cpu(logits, false, tokens, grad, grad_entropy, rows, V,
                                                       1.0f / temperature, dlogits));
}

}  // namespace sr::model
