#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"
#include "core/simd_math.h"
#include "kernels/policy_loss/policy_loss.h"

namespace sr::kernels {

namespace {

struct FastExp {
  float operator()(float x) const { return simd::fast_exp(x); }
};

// Sums of one row segment (or one chunk: segments' sums, the loss weighted by u_b).
struct Partial {
  double loss = 0, ratio = 0, approx_kl = 0, kl = 0;
  float ratio_max = 0;
  int64_t clipped = 0, pre_clipped = 0, non_finite = 0;
};

// The inner loop sums in f32 over blocks of kInner tokens (16 per SIMD lane, error ~1e-6 of the sum of
// magnitudes), then in double: double accumulators in the loop halve its speed.
constexpr int64_t kInner = 128;

// One run of tokens of a single row: constant weight w and, for advantages [B], constant a_row.
template <bool kMask, bool kAdvRow, KlEstimator K>
SR_CPU_MULTIVERSION void segment(const float* __restrict ln, const float* __restrict lo, const float* __restrict adv,
                                 float a_row, const uint8_t* __restrict mask, const float* __restrict lref,
                                 float* __restrict grad, int64_t n, float w, const PolicyLossParams& p, Partial& out) {
  const PolicyLossParams pp = p;  // a local copy: no aliasing with the outputs
  int32_t valid_w[kInner];
  for (int64_t s = 0; s < n; s += kInner) {
    const int64_t e = std::min(n, s + kInner);
    // The u8 mask widened first: with only 32-bit types in the main loop GCC vectorises it 8 wide (AVX2)
    // instead of 16 narrow lanes with heavy register spilling.
    if constexpr (kMask) {
#pragma omp simd
      for (int64_t i = s; i < e; ++i) valid_w[i - s] = mask[i] != 0;
    }
    float s_loss = 0, s_ratio = 0, s_akl = 0, s_kl = 0, r_max = 0;
    int n_clip = 0, n_pre = 0, n_nf = 0;
#pragma omp simd reduction(+ : s_loss, s_ratio, s_akl, s_kl, n_clip, n_pre, n_nf) reduction(max : r_max)
    for (int64_t i = s; i < e; ++i) {
      const bool valid = kMask ? valid_w[i - s] != 0 : true;
      const float a = kAdvRow ? a_row : adv[i];
      const float lr = K != KlEstimator::None ? lref[i] : 0.0f;
      const PolicyLossToken t = policy_loss_token<K>(ln[i], lo[i], a, lr, pp, FastExp{});
      const float g = w * t.dloss;
      const bool bad = !(std::fabs(t.loss) <= FLT_MAX) | !(std::fabs(g) <= FLT_MAX);
      // Selects, never multiplications by the mask: masked NaN/Inf must not leak.
      grad[i] = valid ? g : 0.0f;
      s_loss += valid ? t.loss : 0.0f;
      s_ratio += valid ? t.ratio : 0.0f;
      s_akl += valid ? t.approx_kl : 0.0f;
      if constexpr (K != KlEstimator::None) s_kl += valid ? t.kl : 0.0f;
      const float rv = valid ? t.ratio : 0.0f;
      r_max = rv > r_max ? rv : r_max;
      n_clip += valid & t.clipped;
      n_pre += valid & t.pre_clipped;
      n_nf += valid & bad;
    }
    out.loss += s_loss;
    out.ratio += s_ratio;
    out.approx_kl += s_akl;
    out.kl += s_kl;
    out.ratio_max = std::max(out.ratio_max, r_max);
    out.clipped += n_clip;
    out.pre_clipped += n_pre;
    out.non_finite += n_nf;
  }
}

using SegmentFn = void (*)(const float*, const float*, const float*, float, const uint8_t*, const float*, float*,
                           int64_t, float, const PolicyLossParams&, Partial&);

template <bool kMask, bool kAdvRow>
SegmentFn pick_kl(KlEstimator k) {
  switch (k) {
    case KlEstimator::K1: return &segment<kMask, kAdvRow, KlEstimator::K1>;
    case KlEstimator::K2: return &segment<kMask, kAdvRow, KlEstimator::K2>;
    case KlEstimator::K3: return &segment<kMask, kAdvRow, KlEstimator::K3>;
    default: return &segment<kMask, kAdvRow, KlEstimator::None>;
  }
}

SegmentFn pick_segment(bool mask, bool adv_row, KlEstimator k) {
  if (mask) return adv_row ? pick_kl<true, true>(k) : pick_kl<true, false>(k);
  return adv_row ? pick_kl<false, true>(k) : pick_kl<false, false>(k);
}

SR_CPU_MULTIVERSION int64_t count_nonzero(const uint8_t* __restrict m, int64_t n) {
  int64_t total = 0;
  for (int64_t s = 0; s < n; s += 1 << 20) {  // int32 counts per block
    const int64_t e = std::min(n, s + (1 << 20));
    int c = 0;
#pragma omp simd reduction(+ : c)
    for (int64_t i = s; i < e; ++i) c += m[i] != 0;
    total += c;
  }
  return total;
}

}  // namespace

PolicyLossResult policy_loss_finalize(const PolicyLossSums& s, const PolicyLossParams& p) {
  PolicyLossResult r;
  r.valid_tokens = s.valid_tokens;
  r.valid_sequences = s.valid_rows;
  r.non_finite = s.non_finite;
  r.loss = s.valid_tokens > 0 ? s.loss_u * policy_loss_inv_norm(p, s.valid_tokens, s.valid_rows) : 0.0;
  if (s.valid_tokens > 0) {
    const double n = static_cast<double>(s.valid_tokens);
    r.clip_fraction = static_cast<double>(s.clipped) / n;
    r.pre_clip_fraction = static_cast<double>(s.pre_clipped) / n;
    r.ratio_mean = s.ratio / n;
    // Every non-NaN ratio lies in [minRatio, maxRatio], so a NaN sum means a NaN ratio.
    r.ratio_max = std::isnan(s.ratio) ? std::numeric_limits<double>::quiet_NaN() : s.ratio_max;
    r.approx_kl = s.approx_kl / n;
    r.kl_mean = p.kl != KlEstimator::None ? s.kl / n : 0.0;
  }
  return r;
}

PolicyLossResult policy_loss_cpu(const PolicyLossInputs& in, const PolicyLossParams& p) {
  const int64_t B = p.rows, T = p.cols, n = B * T;
  PolicyLossSums sums;
  if (n == 0) return policy_loss_finalize(sums, p);

  // Valid tokens per row.
  std::vector<int64_t> counts;
  if (in.mask) {
    counts.assign(static_cast<size_t>(B), 0);
    const int64_t min_rows = std::max<int64_t>(1, (int64_t(1) << 16) / T);
    const int64_t chunks = chunk_count(B, min_rows, 256);
    const int64_t size = chunk_size(B, chunks);
    parallel_for(chunks, [&](int64_t c) {
      const int64_t end = std::min(B, (c + 1) * size);
      for (int64_t b = c * size; b < end; ++b) counts[b] = count_nonzero(in.mask + b * T, T);
    });
    for (int64_t b = 0; b < B; ++b) {
      sums.valid_tokens += counts[b];
      sums.valid_rows += counts[b] > 0;
    }
  } else {
    sums.valid_tokens = n;
    sums.valid_rows = B;
  }
  const double inv_norm = policy_loss_inv_norm(p, sums.valid_tokens, sums.valid_rows);
  const bool per_row_u = p.aggregation == LossAggregation::SeqMeanTokenMean;

  const SegmentFn fn = pick_segment(in.mask != nullptr, p.adv_per_row, p.kl);
  const int64_t chunks = chunk_count(n, 1 << 15, 256);
  const int64_t size = chunk_size(n, chunks);
  std::vector<Partial> parts(static_cast<size_t>(chunks));
  parallel_for(chunks, [&](int64_t c) {
    const int64_t begin = c * size;
    const int64_t end = std::min(n, begin + size);
    Partial acc;
    for (int64_t pos = begin, b = begin / T; pos < end; ++b) {
      const int64_t seg_end = std::min(end, (b + 1) * T);
      const int64_t len = seg_end - pos;
      const int64_t nb = in.mask ? counts[b] : T;
      if (nb == 0) {
        std::fill(in.grad + pos, in.grad + seg_end, 0.0f);
      } else {
        const double u = per_row_u ? 1.0 / static_cast<double>(nb) : 1.0;
        const float w = static_cast<float>(u * inv_norm);
        const float a_row = p.adv_per_row ? in.advantages[b] : 0.0f;
        Partial seg;
        fn(in.logp_new + pos, in.logp_old + pos, p.adv_per_row ? nullptr : in.advantages + pos, a_row,
           in.mask ? in.mask + pos : nullptr, in.logp_ref ? in.logp_ref + pos : nullptr, in.grad + pos, len, w, p, seg);
        acc.loss += u * seg.loss;
        acc.ratio += seg.ratio;
        acc.approx_kl += seg.approx_kl;
        acc.kl += seg.kl;
        acc.ratio_max = std::max(acc.ratio_max, seg.ratio_max);
        acc.clipped += seg.clipped;
        acc.pre_clipped += seg.pre_clipped;
        acc.non_finite += seg.non_finite;
      }
      pos = seg_end;
    }
    parts[static_cast<size_t>(c)] = acc;
  });
  for (const Partial& q : parts) {  // in chunk order: the result does not depend on the thread count
    sums.loss_u += q.loss;
    sums.ratio += q.ratio;
    sums.approx_kl += q.approx_kl;
    sums.kl += q.kl;
    sums.ratio_max = std::max(sums.ratio_max, q.ratio_max);
    sums.clipped += q.clipped;
    sums.pre_clipped += q.pre_clipped;
    sums.non_finite += q.non_finite;
  }
  return policy_loss_finalize(sums, p);
}

}  // namespace sr::kernels
