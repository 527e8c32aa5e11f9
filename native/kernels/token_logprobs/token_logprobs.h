// Token log-probabilities and entropy from logits, forward and backward.
//
// Inputs: logits [n, v] (f32 or bf16, row-major), tokens [n] (i32), same device.
// With x = logits / T (T = temperature in kTemperatureRange, so that 1/T, taken
// once as an f32 and used the same way by both directions, is a normal number):
//   logprob[i] = x[i, tok_i] - lse_i,           lse_i = log sum_j exp(x[i, j])
//   entropy[i] = lse_i - sum_j softmax(x_i)_j * x[i, j]      (= -sum p log p)
// Forward: one pass over each row with an online log-sum-exp, accumulated in f32
// relative to the running row maximum m (raw logits): s = sum exp((l - m) / T),
// t = sum exp((l - m) / T) * (l - m), rescaled when m grows. Then
//   logprob = (l_tok - m) / T - log s,   entropy = log s - (t / T) / s.
// Working relative to m keeps logits like -1e4 or spreads of 1e4 exact (no
// catastrophic cancellation, no underflow to -inf). N x V is never written.
//
// Backward: gradient of  sum_i gLp[i] * logprob[i] + gH[i] * entropy[i]  w.r.t.
// the logits, in the logits' dtype (f32, or bf16 rounded to nearest even):
//   d logits[i, j] = (gLp[i] * (1[j = tok_i] - p_j) - gH[i] * p_j * (log p_j + H_i)) / T
// Two passes per row (row statistics, then the gradient); gH = 0 when absent.
//
// Edge behaviour (CPU and CUDA alike):
// - A -inf logit (masked vocabulary) contributes 0 to every sum, and 0 to the
//   gradient except at the target. A target with a -inf logit gives logprob -inf
//   (a finite entropy, and a finite gradient: gLp / T at the target).
// - A row with a NaN or +inf logit, or with every logit -inf, has no log-softmax:
//   its logprob and entropy are NaN (backward: its whole gradient row is NaN) and
//   it is counted in TokenLogprobsStatus::nonfinite_rows. Backward also counts
//   (and NaN-fills) rows whose gLp or gH is not finite. Callers decide (the
//   TypeScript layer throws unless told to keep NaN rows).
// - A token outside [0, v) is reported in bad_token_row/value; its row is never
//   read at the token's index (outputs there are NaN). Callers must throw.
// - n = 0 does nothing; v must be >= 1 when n > 0 (checked by the binding).
// - 64-bit offsets throughout: n * v may exceed 2^31.
//
// Synchronisation: the CPU entry points check the tokens first and compute
// nothing if one is bad. The CUDA entry points write the status (three 8-byte
// counters) on the device and read it back with one stream synchronisation at
// the end (plus a 4-byte read of the bad token on that error path): that
// readback is the only host synchronisation.
#pragma once
#include <cstdint>

#include "core/limits.h"

namespace sr::kernels {

// The temperature's range (checked by the binding, exported as native.limits.tokenLogprobs).
inline constexpr Range kTemperatureRange = closed(1e-30, 1e30);

struct TokenLogprobsStatus {
  int64_t bad_token_row = -1;  // first row whose token is outside [0, v), -1 if none
  int32_t bad_token_value = 0;
  int64_t nonfinite_rows = 0;        // rows whose outputs are NaN (see above)
  int64_t first_nonfinite_row = -1;  // -1 if none
};

// logits points to f32 (bf16 = false) or raw bfloat16 bits (bf16 = true).
// entropy may be null (not computed).
TokenLogprobsStatus token_logprobs_cpu(const void* logits, bool bf16, const int32_t* tokens, int64_t n, int64_t v,
                                       float inv_temperature, float* logprobs, float* entropy);

// grad_entropy may be null (gH = 0). grad_logits has the logits' dtype.
TokenLogprobsStatus token_logprobs_backward_cpu(const void* logits, bool bf16, const int32_t* tokens,
                                                const float* grad_logprobs, const float* grad_entropy, int64_t n,
                                                int64_t v, float inv_temperature, void* grad_logits);

#ifdef SR_WITH_CUDA
TokenLogprobsStatus token_logprobs_cuda(const void* logits, bool bf16, const int32_t* tokens, int64_t n, int64_t v,
                                        float inv_temperature, float* logprobs, float* entropy);

TokenLogprobsStatus token_logprobs_backward_cuda(const void* logits, bool bf16, const int32_t* tokens,
                                                 const float* grad_logprobs, const float* grad_entropy, int64_t n,
                                                 int64_t v, float inv_temperature, void* grad_logits);
#endif

}  // namespace sr::kernels
