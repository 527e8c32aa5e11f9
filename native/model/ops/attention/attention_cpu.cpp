#include "model/ops/attention/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"
#include "core/simd_math.h"
#include "model/ops/matmul/matmul.h"

namespace sr::model {

namespace {

// Softmax of row i over keys [0, visible), zeros after.
SR_CPU_MULTIVERSION
void softmax_rows(float* p, int64_t r0, int64_t r1, int64_t m, int64_t first_visible) {
  for (int64_t i = r0; i < r1; ++i) {
    float* row = p + i * m;
    const int64_t vis = std::min(m, first_visible + i + 1);
    float mx = row[0];
    for (int64_t j = 1; j < vis; ++j) mx = row[j] > mx ? row[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < vis; ++j) {
      const float e = simd::fast_exp(row[j] - mx);
      row[j] = e;
      sum += e;
    }
    const float r = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < vis; ++j) row[j] *= r;
    for (int64_t j = vis; j < m; ++j) row[j] = 0.0f;
  }
}

// dS = P * (dP - rowsum(P * dP)), in place in dp.
SR_CPU_MULTIVERSION
void softmax_backward_rows(const float* p, float* dp, int64_t r0, int64_t r1, int64_t m) {
  for (int64_t i = r0; i < r1; ++i) {
    const float* pr = p + i * m;
    float* g = dp + i * m;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < m; ++j) dot += pr[j] * g[j];
#pragma omp simd
    for (int64_t j = 0; j < m; ++j) g[j] = pr[j] * (g[j] - dot);
  }
}

template <class F>
void over_rows(int64_t n, int64_t m, F f) {
  const int64_t chunks = std::min<int64_t>(n, chunk_count(n * m, 1 << 14, 64));
  const int64_t size = chunk_size(n, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t r0 = c * size;
    f(r0, std::min(n, r0 + size));
  });
}

}  // namespace

void attention_forward_cpu(const AttentionShape& s, const float* q, const float* k, const float* v, float* out,
                           float* probs) {
  if (s.n <= 0) return;
  const int group = s.heads / s.kv_heads;
  for (int h = 0; h < s.heads; ++h) {
    const int g = h / group;
    float* p = probs + static_cast<int64_t>(h) * s.n * s.m;
    gemm_cpu(false, true, s.n, s.m, s.hd, s.scale, q + static_cast<int64_t>(h) * s.hd, s.q_stride,
             k + static_cast<int64_t>(g) * s.hd, s.kv_stride, 0.0f, p, s.m);
    over_rows(s.n, s.m, [&](int64_t r0, int64_t r1) { softmax_rows(p, r0, r1, s.m, s.m - s.n); });
    gemm_cpu(false, false, s.n, s.hd, s.m, 1.0f, p, s.m, v + static_cast<int64_t>(g) * s.hd, s.kv_stride, 0.0f,
             out + static_cast<int64_t>(h) * s.hd, s.q_stride);
  }
}

void attention_backward_cpu(const AttentionShape& s, const float* q, const float* k, const float* v, const float* probs,
                            const float* dout, float* dq, float* dk, float* dv, float* scratch) {
  if (s.n <= 0) return;
  const int group = s.heads / s.kv_heads;
  for (int h = 0; h < s.heads; ++h) {
    const int64_t qo = static_cast<int64_t>(h) * s.hd;
    const int64_t ko = static_cast<int64_t>(h / group) * s.hd;
    const float* p = probs + static_cast<int64_t>(h) * s.n * s.m;
    gemm_cpu(false, true, s.n, s.m, s.hd, 1.0f, dout + qo, s.q_stride, v + ko, s.kv_stride, 0.0f, scratch, s.m);
    gemm_cpu(true, false, s.m, s.hd, s.n, 1.0f, p, s.m, dout + qo, s.q_stride, 1.0f, dv + ko, s.kv_stride);
    over_rows(s.n, s.m, [&](int64_t r0, int64_t r1) { softmax_backward_rows(p, scratch, r0, r1, s.m); });
    gemm_cpu(false, false, s.n, s.hd, s.m, s.scale, scratch, s.m, k + ko, s.kv_stride, 0.0f, dq + qo, s.q_stride);
    gemm_cpu(true, false, s.m, s.hd, s.n, s.scale, scratch, s.m, q + qo, s.q_stride, 1.0f, dk + ko, s.kv_stride);
  }
}

void attention_forward_batch_cpu(const AttnBatch& b, const float* q, const float* k, const float* v, float* out,
                                 float* probs) {
  for (int64_t i = 0; i < b.n_seqs; ++i) {
    const AttnSeq& sq = b.seqs[i];
    AttentionShape s{sq.n, sq.m, b.heads, b.kv_heads, b.hd, b.q_stride, b.kv_stride, b.scale};
    attention_forward_cpu(s, q + sq.q_row * b.q_stride, k + sq.kv_off, v + sq.kv_off, out + sq.q_row * b.q_stride,
                          probs + sq.probs_off);
  }
}

void attention_backward_batch_cpu(const AttnBatch& b, const float* q, const float* k, const float* v,
                                  const float* probs, const float* dout, float* dq, float* dk, float* dv,
                                  float* scratch) {
  for (int64_t i = 0; i < b.n_seqs; ++i) {
    const AttnSeq& sq = b.seqs[i];
    AttentionShape s{sq.n, sq.m, b.heads, b.kv_heads, b.hd, b.q_stride, b.kv_stride, b.scale};
    attention_backward_cpu(s, q + sq.q_row * b.q_stride, k + sq.kv_off, v + sq.kv_off, probs + sq.probs_off,
                           dout + sq.q_row * b.q_stride, dq + sq.q_row * b.q_stride, dk + sq.kv_off, dv + sq.kv_off,
                           scratch);
  }
}

void kv_cache_write_cpu(const float* k, const float* v, float* cache_k, float* cache_v, const int64_t* slots,
                        const int32_t* pos, int64_t rows, int64_t cap, int64_t kvd) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t dst = (slots[r] * cap + pos[r]) * kvd;
    std::memcpy(cache_k + dst, k + r * kvd, sizeof(float) * kvd);
    std::memcpy(cache_v + dst, v + r * kvd, sizeof(float) * kvd);
  }
}

}  // namespace sr::model
