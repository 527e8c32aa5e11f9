// LM head -> log-probs of chosen tokens, on the rows of logits the model computed.
// Delegates to kernels/token_logprobs (tokenLogprobs), the project's one implementation of
//   x = logits / temperature,  logprob = x[token] - logsumexp(x),  entropy = logsumexp(x) - sum softmax(x) x
// (online, f32 accumulation, N x V never written twice). Backward writes the gradient of
// sum_r g[r] logprob[r] + gh[r] entropy[r] (gh null: 0):
//   dlogits[v] = (g (1[v == token] - p_v) - gh p_v (log p_v + entropy)) / temperature.
// Tokens are validated by the model before; a bad one here is a RangeError.
// row_logsumexp serves sampling (the distribution to draw from).
// CUDA: the same through token_logprobs_cuda, every array on the device; each call reads the
// kernel's status back (one stream synchronisation).
#pragma once
#include <cstdint>

namespace sr::kernels {
struct TokenLogprobsStatus;
}

namespace sr::model {

// A bad token in the status of a tokenLogprobs call becomes a RangeError (CPU and CUDA).
void check_lm_status(const kernels::TokenLogprobsStatus& st);

void lm_logprobs_forward_cpu(const float* logits, const int32_t* tokens, int64_t rows, int64_t V, float temperature,
                             float* logprobs, float* entropy /* nullable */);
void lm_logprobs_backward_cpu(const float* logits, const int32_t* tokens, const float* grad,
                              const float* grad_entropy /* nullable */, int64_t rows, int64_t V, float temperature,
                              float* dlogits);

#ifdef SR_WITH_CUDA
void lm_logprobs_forward_cuda(const float* logits, const int32_t* tokens, int64_t rows, int64_t V, float temperature,
                              float* logprobs, float* entropy /* nullable */);
void lm_logprobs_backward_cuda(const float* logits, const int32_t* tokens, const float* grad,
                               const float* grad_entropy /* nullable */, int64_t rows, int64_t V, float temperature,
                               float* dlogits);
#endif

float row_logsumexp(const float* logits, int64_t V, float inv_temperature);

}  // namespace sr::model
