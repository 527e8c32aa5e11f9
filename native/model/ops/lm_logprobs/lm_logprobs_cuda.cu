// LM head log-probs on CUDA: the tokenLogprobs kernel's CUDA entry points (contract in lm_logprobs.h).
#include "kernels/token_logprobs/token_logprobs.h"
#include "model/ops/lm_logprobs/lm_logprobs.h"

namespace sr::model {

void lm_logprobs_forward_cuda(const float* logits, const int32_t* tokens, int64_t rows, int64_t V, float temperature,
                              float* logprobs, float* entropy) {
  check_lm_status(kernels::token_logprobs_cuda(logits, false, tokens, rows, V, 1.0f / temperature, logprobs, entropy));
}

void lm_logprobs_backward_cuda(const float* logits, const int32_t* tokens, const float* grad, const float* grad_entropy,
                               int64_t rows, int64_t V, float temperature, float* dlogits) {
  check_lm_status(kernels::token_logprobs_backward_cuda(logits, false, tokens, grad, grad_entropy, rows, V,
                                                        1.0f / temperature, dlogits));
}

}  // namespace sr::model
