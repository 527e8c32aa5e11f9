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
// scratch needs n * m floats. Matrix products go through gemm_cpu (the built-in GEMM).
//
// Batched form (what the model calls): AttnBatch lists the sequences of one call (the packed
// training batch, or the rows of a decoding step over the KV cache). The CPU versions run the
// per-sequence functions above in order. CUDA (attention_cuda.cu, f32 on CUDA cores):
// - forward: one block per (query row, head): scores (a warp per key), softmax, then P V with the
//   keys split over thread groups and reduced in shared memory; probs written as on the CPU;
// - backward: a block per (query row, head) writes dS (into scratch, laid out like probs) and dQ;
//   then a block per (key row, kv head) sums dK and dV over the query rows and the heads of its
//   group in a fixed order (no atomics: deterministic). Needs n == m for every sequence (training)
//   and scratch as large as probs.
// Head sizes up to 2048 (shared memory); asynchronous on the stream.
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
void attention_backward_cpu(const AttentionShape& s, const float* q, const float* k, const float* v, const float* probs,
                            const float* dout, float* dq, float* dk, float* dv, float* scratch);

// Sequence s of a batch: n query rows from packed row q_row (rows of q / out / dq), m keys from
// element kv_off of k / v (row stride kv_stride), probabilities [heads, n, m] from probs_off.
struct AttnSeq {
  int64_t q_row, kv_off, probs_off;
  int32_t n, m;
};

struct AttnBatch {
  int heads, kv_heads, hd;
  int64_t q_stride, kv_stride;
  float scale;
  const AttnSeq* seqs;  // host
  int64_t n_seqs;
  // CUDA: the same descriptors on the device, and the sequence of each of the `rows` query rows.
  const AttnSeq* seqs_dev;
  const int32_t* row_seq_dev;
  int64_t rows;
};

void attention_forward_batch_cpu(const AttnBatch& b, const float* q, const float* k, const float* v, float* out,
                                 float* probs);
// scratch: the largest n * m of the batch.
void attention_backward_batch_cpu(const AttnBatch& b, const float* q, const float* k, const float* v,
                                  const float* probs, const float* dout, float* dq, float* dk, float* dv,
                                  float* scratch);
// Decoding: the key/value rows r of a step go to position pos[r] of cache slot slots[r]
// (cache + (slots[r] * cap + pos[r]) * kvd, for the layer's cache base).
void kv_cache_write_cpu(const float* k, const float* v, float* cache_k, float* cache_v, const int64_t* slots,
                        const int32_t* pos, int64_t rows, int64_t cap, int64_t kvd);

#ifdef SR_WITH_CUDA
void attention_forward_cuda(const AttnBatch& b, const float* q, const float* k, const float* v, float* out,
                            float* probs);
void attention_backward_cuda(const AttnBatch& b, const float* q, const float* k, const float* v, const float* probs,
                             const float* dout, float* dq, float* dk, float* dv, float* scratch);
void kv_cache_write_cuda(const float* k, const float* v, float* cache_k, float* cache_v, const int64_t* slots,
                         const int32_t* pos, int64_t rows, int64_t cap, int64_t kvd);
#endif

}  // namespace sr::model
