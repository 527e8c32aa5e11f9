// LM head -> log-probs of chosen tokens, on the rows of logits the model computed.
// Delegates to kernels/token_logprobs (tokenLogprobs), the project's one implementation of
//   x = logits / temperature,  logprob = x[token] - logsumexp(x),  entropy = logsumexp(x) - sum softmax(x) x
// (online, f32 accumulation, N x V never written twice). Backward writes
//   dlogits[v] = g * (1[v == token] - softmax(x)_v) / temperature.
// Tokens are validated by the model before; a bad one here is a RangeError.
// row_logsumexp serves sampling (the distribution to draw from).
#pragma once
#include <cstdint>

namespace sr::model {

void lm_logprobs_forward_cpu(const float* logits, const int32_t* tokens, int64_t rows, int64_t V, float temperature,
                             float* logprobs, float* entropy /* nullable */);
void lm_logprobs_backward_cpu(const float* logits, const int32_t* tokens, const float* grad, int64_t rows, int64_t V,
                              float temperature, float* dlogits);

float row_logsumexp(const float* logits, int64_t V, float inv_temperature);

}  // namespace sr::model
