// Causal multi-head self-attention of one sequence, grouped-query heads allowed
// (head h reads key/value head h / (heads / kv_heads)).
//
// The n query rows are the sequence's LAST n positions out of m (n = m in
// training and prefill, n = 1 in a cached decoding step): query i sees keys
// j <= (m - n) + i. Padding never enters: the model packs sequences back to
// back and calls this once per sequence with its own length, which is the
// padding mask expressed as lengths (rows past a sequence's end do not exist).
//
//   S = scale * Q_h K_g^T,  P = softmax over the visible keys (others 0),  O_h = P V_g
// Layout: q/out rows of heads*hd (row stride q_stride), k/v rows of kv_heads*hd
// (row stride kv_stride); probs [heads, n, m] is written (saved for backward).
// Backward (dk, dv accumulated: zero them first; dq written):
//   dP = dO V^T, dS = P * (dP - rowsum(P * dP)), dQ = scale dS K, dK += scale dS^T Q, dV += P^T dO
// scratch needs n * m floats. Matrix products go through gemm_cpu (OpenBLAS).
#pragma once
#include <cstdint>

namespace sr::model {

struct AttentionShape {
  int64_t n, m;
  int heads, kv_heads, hd;
  int64_t q_stride, kv_stride;
  float scale;
};

void attention_forward_cpu(const AttentionShape& s, const float* q, const float* k, const float* v, float* out,
                           float* probs);
void attention_backward_cpu(const AttentionShape& s, const float* q, const float* k, const float* v,
                            const float* probs, const float* dout, float* dq, float* dk, float* dv, float* scratch);

}  // namespace sr::model
