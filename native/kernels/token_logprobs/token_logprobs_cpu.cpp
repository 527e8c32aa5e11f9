#include "kernels/token_logprobs/token_logprobs.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu_dispatch.h"
#include "core/dtype.h"
#include "core/parallel.h"
#include "core/simd_math.h"

namespace sr::kernels {

namespace {

// Forced inlining so that the helpers are compiled for each SR_CPU_MULTIVERSION clone.
#define SR_TLP_INLINE inline __attribute__((always_inline))

constexpr int kLanes = 16;   // independent online-LSE states: two AVX2 vectors
constexpr int kBlock = 512;  // logits per block (a multiple of kLanes), converted into a 2 KiB buffer
// Initial running maximum: finite, so that l - m is never (-inf) - (-inf).
constexpr float kNegMax = -FLT_MAX;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct RowStats {
  float m;                                           // max raw logit (kNegMax if none is finite)
  float s;                                           // sum exp((l - m) / T)
  float t;                                           // sum exp((l - m) / T) * (l - m), raw units
  bool ok() const { return s > 0.0f && m != kInf; }  // false: NaN, +inf, or every logit -inf
};

// Logits [j0, j0 + count) as f32; the last lane group is padded with -inf, which adds 0.
template <bool kBf16>
SR_TLP_INLINE const float* load_block(const void* row, int64_t j0, int count, float* buf) {
  if constexpr (!kBf16) {
    const float* src = static_cast<const float*>(row) + j0;
    if (count == kBlock) return src;
    for (int k = 0; k < count; ++k) buf[k] = src[k];
  } else {
    const uint16_t* src = static_cast<const uint16_t*>(row) + j0;
#pragma omp simd
    for (int k = 0; k < count; ++k) buf[k] = simd::bits_to_float(static_cast<int32_t>(uint32_t(src[k]) << 16));
  }
  const int padded = (count + kLanes - 1) / kLanes * kLanes;
  for (int k = count; k < padded; ++k) buf[k] = -kInf;
  return buf;
}

template <bool kBf16>
SR_TLP_INLINE float load_one(const void* row, int64_t j) {
  if constexpr (kBf16) return bf16_to_f32(static_cast<const uint16_t*>(row)[j]);
  return static_cast<const float*>(row)[j];
}

// One pass over a row: per lane, a block maximum first (from the buffer, in L1),
// one rescale per block, then exp/sum with no data-dependent select.
template <bool kBf16, bool kEnt>
SR_TLP_INLINE RowStats row_stats(const void* row, int64_t v, float inv_t, float* buf) {
  float m[kLanes], s[kLanes], t[kLanes], bm[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    m[l] = kNegMax;
    s[l] = 0.0f;
    t[l] = 0.0f;
  }
  for (int64_t j0 = 0; j0 < v; j0 += kBlock) {
    const int count = static_cast<int>(std::min<int64_t>(kBlock, v - j0));
    const int padded = (count + kLanes - 1) / kLanes * kLanes;
    const float* x = load_block<kBf16>(row, j0, count, buf);
    for (int l = 0; l < kLanes; ++l) bm[l] = m[l];
    for (int k = 0; k < padded; k += kLanes) {
#pragma omp simd
      for (int l = 0; l < kLanes; ++l) bm[l] = x[k + l] > bm[l] ? x[k + l] : bm[l];  // NaN is caught by s below
    }
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) {
      const float delta = m[l] - bm[l];  // <= 0 (NaN only if both are +inf)
      const float a = simd::fast_exp(delta * inv_t);
      // Old terms relative to the new maximum; a == 0 or s == 0 means they vanish (avoids 0 * inf).
      if constexpr (kEnt) t[l] = (s[l] > 0.0f && a > 0.0f) ? a * (t[l] + s[l] * delta) : 0.0f;
      s[l] *= a;
      m[l] = bm[l];
    }
    // Block partial sums, then one add per block: keeps the f32 rounding error
    // ~(kBlock / kLanes + v / kBlock) ulp instead of ~v / kLanes for long rows.
    float bs[kLanes] = {}, bt[kLanes] = {};
    for (int k = 0; k < padded; k += kLanes) {
#pragma omp simd
      for (int l = 0; l < kLanes; ++l) {
        float d = x[k + l] - m[l];  // <= 0, -inf for a masked logit, NaN for NaN
        const float e = simd::fast_exp(d * inv_t);
        bs[l] += e;
        if constexpr (kEnt) {
          d = d < kNegMax ? kNegMax : d;  // e == 0 there: keeps 0 * (-inf) out of t
          bt[l] += e * d;
        }
      }
    }
    for (int l = 0; l < kLanes; ++l) {
      s[l] += bs[l];
      if constexpr (kEnt) t[l] += bt[l];
    }
  }
  // Merge the lanes (same algebra as the rescale above).
  float M = kNegMax;
  for (int l = 0; l < kLanes; ++l) M = m[l] > M ? m[l] : M;
  RowStats r{M, 0.0f, 0.0f};
  for (int l = 0; l < kLanes; ++l) {
    const float delta = m[l] - M;
    const float a = std::exp(delta * inv_t);
    r.s += s[l] * a;
    if (kEnt && s[l] > 0.0f && a > 0.0f) r.t += a * (t[l] + s[l] * delta);
  }
  return r;
}

struct ChunkCount {
  int64_t nonfinite = 0;
  int64_t first = -1;
  void add(int64_t row) {
    if (nonfinite++ == 0) first = row;
  }
};

template <bool kBf16, bool kEnt>
SR_TLP_INLINE void forward_rows(const void* logits, const int32_t* tokens, int64_t r0, int64_t r1, int64_t v,
                                float inv_t, float* lp, float* ent, ChunkCount* cc) {
  alignas(64) float buf[kBlock];
  const size_t esize = kBf16 ? 2 : 4;
  for (int64_t r = r0; r < r1; ++r) {
    const void* row = static_cast<const char*>(logits) + static_cast<size_t>(r) * static_cast<size_t>(v) * esize;
    const RowStats st = row_stats<kBf16, kEnt>(row, v, inv_t, buf);
    if (!st.ok()) {
      lp[r] = kNaN;
      if (kEnt) ent[r] = kNaN;
      cc->add(r);
      continue;
    }
    const float ln_s = std::log(st.s);
    lp[r] = (load_one<kBf16>(row, tokens[r]) - st.m) * inv_t - ln_s;
    if (kEnt) ent[r] = ln_s - (st.t * inv_t) / st.s;
  }
}

template <bool kBf16, bool kEnt>
SR_TLP_INLINE void backward_rows(const void* logits, const int32_t* tokens, const float* glp, const float* gh,
                                 int64_t r0, int64_t r1, int64_t v, float inv_t, void* grad, ChunkCount* cc) {
  alignas(64) float buf[kBlock];
  alignas(64) float gbuf[kBlock];
  const size_t esize = kBf16 ? 2 : 4;
  for (int64_t r = r0; r < r1; ++r) {
    const size_t offset = static_cast<size_t>(r) * static_cast<size_t>(v) * esize;
    const void* row = static_cast<const char*>(logits) + offset;
    void* out = static_cast<char*>(grad) + offset;
    const RowStats st = row_stats<kBf16, kEnt>(row, v, inv_t, buf);
    const float g_lp = glp[r];
    const float g_h = kEnt ? gh[r] : 0.0f;
    if (!st.ok() || !std::isfinite(g_lp) || !std::isfinite(g_h)) {
      if constexpr (kBf16) {
        std::fill(static_cast<uint16_t*>(out), static_cast<uint16_t*>(out) + v, f32_to_bf16(kNaN));
      } else {
        std::fill(static_cast<float*>(out), static_cast<float*>(out) + v, kNaN);
      }
      cc->add(r);
      continue;
    }
    const float ln_s = std::log(st.s);
    const float H = kEnt ? ln_s - (st.t * inv_t) / st.s : 0.0f;
    const int64_t tok = tokens[r];
    for (int64_t j0 = 0; j0 < v; j0 += kBlock) {
      const int count = static_cast<int>(std::min<int64_t>(kBlock, v - j0));
      const float* x = load_block<kBf16>(row, j0, count, buf);
      const int tk = (tok >= j0 && tok < j0 + count) ? static_cast<int>(tok - j0) : -1;
      float* dst = kBf16 ? gbuf : static_cast<float*>(out) + j0;
#pragma omp simd
      for (int k = 0; k < count; ++k) {
        const float lpj = (x[k] - st.m) * inv_t - ln_s;
        const float p = simd::fast_exp(lpj);
        float g = kEnt ? -p * (g_lp + g_h * (lpj + H)) : -p * g_lp;
        g = p > 0.0f ? g : 0.0f;  // p == 0 (masked): the limit is 0, avoids 0 * inf
        g += k == tk ? g_lp : 0.0f;
        dst[k] = g * inv_t;
      }
      if constexpr (kBf16) {
        uint16_t* o = static_cast<uint16_t*>(out) + j0;
        for (int k = 0; k < count; ++k) o[k] = f32_to_bf16(gbuf[k]);
      }
    }
  }
}

// The multiversioned entry points (templates are inlined into each clone).
SR_CPU_MULTIVERSION
void forward_rows_f32(const void* logits, const int32_t* tokens, int64_t r0, int64_t r1, int64_t v, float inv_t,
                      float* lp, float* ent, ChunkCount* cc) {
  if (ent) {
    forward_rows<false, true>(logits, tokens, r0, r1, v, inv_t, lp, ent, cc);
  } else {
    forward_rows<false, false>(logits, tokens, r0, r1, v, inv_t, lp, ent, cc);
  }
}

SR_CPU_MULTIVERSION
void forward_rows_bf16(const void* logits, const int32_t* tokens, int64_t r0, int64_t r1, int64_t v, float inv_t,
                       float* lp, float* ent, ChunkCount* cc) {
  if (ent) {
    forward_rows<true, true>(logits, tokens, r0, r1, v, inv_t, lp, ent, cc);
  } else {
    forward_rows<true, false>(logits, tokens, r0, r1, v, inv_t, lp, ent, cc);
  }
}

SR_CPU_MULTIVERSION
void backward_rows_f32(const void* logits, const int32_t* tokens, const float* glp, const float* gh, int64_t r0,
                       int64_t r1, int64_t v, float inv_t, void* grad, ChunkCount* cc) {
  if (gh) {
    backward_rows<false, true>(logits, tokens, glp, gh, r0, r1, v, inv_t, grad, cc);
  } else {
    backward_rows<false, false>(logits, tokens, glp, gh, r0, r1, v, inv_t, grad, cc);
  }
}

SR_CPU_MULTIVERSION
void backward_rows_bf16(const void* logits, const int32_t* tokens, const float* glp, const float* gh, int64_t r0,
                        int64_t r1, int64_t v, float inv_t, void* grad, ChunkCount* cc) {
  if (gh) {
    backward_rows<true, true>(logits, tokens, glp, gh, r0, r1, v, inv_t, grad, cc);
  } else {
    backward_rows<true, false>(logits, tokens, glp, gh, r0, r1, v, inv_t, grad, cc);
  }
}

TokenLogprobsStatus check_tokens(const int32_t* tokens, int64_t n, int64_t v) {
  TokenLogprobsStatus st;
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= v) {
      st.bad_token_row = i;
      st.bad_token_value = tokens[i];
      break;
    }
  }
  return st;
}

// Rows are independent; chunks (fixed by n and v) only balance the load.
template <class Fn>
TokenLogprobsStatus for_row_chunks(int64_t n, int64_t v, Fn&& fn) {
  const int64_t chunks = chunk_count(n, std::max<int64_t>(1, (int64_t(1) << 15) / v), 1024);
  const int64_t size = chunk_size(n, chunks);
  std::vector<ChunkCount> counts(static_cast<size_t>(chunks));
  parallel_for(chunks, [&](int64_t c) {
    const int64_t begin = c * size;
    const int64_t end = std::min(n, begin + size);
    fn(begin, end, &counts[static_cast<size_t>(c)]);
  });
  TokenLogprobsStatus st;
  for (const ChunkCount& cc : counts) {
    if (cc.nonfinite && st.first_nonfinite_row < 0) st.first_nonfinite_row = cc.first;
    st.nonfinite_rows += cc.nonfinite;
  }
  return st;
}

}  // namespace

TokenLogprobsStatus token_logprobs_cpu(const void* logits, bool bf16, const int32_t* tokens, int64_t n, int64_t v,
                                       float inv_temperature, float* logprobs, float* entropy) {
  TokenLogprobsStatus st = check_tokens(tokens, n, v);
  if (st.bad_token_row >= 0 || n == 0) return st;
  return for_row_chunks(n, v, [&](int64_t r0, int64_t r1, ChunkCount* cc) {
    (bf16 ? forward_rows_bf16 : forward_rows_f32)(logits, tokens, r0, r1, v, inv_temperature, logprobs, entropy, cc);
  });
}

TokenLogprobsStatus token_logprobs_backward_cpu(const void* logits, bool bf16, const int32_t* tokens,
                                                const float* grad_logprobs, const float* grad_entropy, int64_t n,
                                                int64_t v, float inv_temperature, void* grad_logits) {
  TokenLogprobsStatus st = check_tokens(tokens, n, v);
  if (st.bad_token_row >= 0 || n == 0) return st;
  return for_row_chunks(n, v, [&](int64_t r0, int64_t r1, ChunkCount* cc) {
    (bf16 ? backward_rows_bf16 : backward_rows_f32)(logits, tokens, grad_logprobs, grad_entropy, r0, r1, v,
                                                    inv_temperature, grad_logits, cc);
  });
}

}  // namespace sr::kernels
