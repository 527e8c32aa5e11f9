#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "kernels/reinforce_returns/reinforce_returns.h"

namespace sr::kernels {

namespace {

template <KlEstimator E>
inline double kl_term(float old_lp, float ref_lp) {
  const double x = static_cast<double>(old_lp) - static_cast<double>(ref_lp);
  if constexpr (E == KlEstimator::K1) return x;
  if constexpr (E == KlEstimator::K2) return 0.5 * x * x;
  return std::expm1(-x) + x;  // k3; expm1 keeps it accurate for small x
}

// One row, walked backwards. kUseKl = false never reads the log-probs.
template <bool kUseKl, KlEstimator E>
void row_returns(float reward, const uint8_t* m, const float* old_lp, const float* ref_lp, float* out, int64_t T,
                 double kl_coef, double gamma) {
  int64_t last = T - 1;
  while (last >= 0 && !m[last]) --last;
  std::fill(out + last + 1, out + T, 0.0f);  // after the last valid token every return is 0
  double g = 0;
  for (int64_t t = last; t >= 0; --t) {
    if (m[t]) {
      double r = t == last ? static_cast<double>(reward) : 0.0;
      if constexpr (kUseKl) r -= kl_coef * kl_term<E>(old_lp[t], ref_lp[t]);
      g = r + gamma * g;
      out[t] = static_cast<float>(g);
    } else {
      g = gamma * g;
      out[t] = 0.0f;
    }
  }
}

template <bool kUseKl, KlEstimator E>
void all_rows(const float* rewards, const uint8_t* mask, const float* old_lp, const float* ref_lp, float* out,
              int64_t B, int64_t T, double kl_coef, double gamma) {
  // Rows are independent: chunking only balances the work.
  const int64_t chunks = chunk_count(B, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(T, 1)), 1024);
  const int64_t size = chunk_size(B, chunks);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t end = std::min(B, (c + 1) * size);
    for (int64_t b = c * size; b < end; ++b) {
      const int64_t o = b * T;
      row_returns<kUseKl, E>(rewards[b], mask + o, kUseKl ? old_lp + o : nullptr, kUseKl ? ref_lp + o : nullptr,
                             out + o, T, kl_coef, gamma);
    }
  });
}

}  // namespace

void reinforce_returns_cpu(const float* rewards, const uint8_t* mask, const float* logp_old, const float* logp_ref,
                           float* out, int64_t batch, int64_t tokens, double kl_coef, KlEstimator estimator,
                           double gamma) {
  if (batch <= 0 || tokens <= 0) return;
  if (kl_coef == 0) {
    all_rows<false, KlEstimator::K1>(rewards, mask, nullptr, nullptr, out, batch, tokens, 0.0, gamma);
    return;
  }
  switch (estimator) {
    case KlEstimator::K1:
      all_rows<true, KlEstimator::K1>(rewards, mask, logp_old, logp_ref, out, batch, tokens, kl_coef, gamma);
      break;
    case KlEstimator::K2:
      all_rows<true, KlEstimator::K2>(rewards, mask, logp_old, logp_ref, out, batch, tokens, kl_coef, gamma);
      break;
    case KlEstimator::K3:
      all_rows<true, KlEstimator::K3>(rewards, mask, logp_old, logp_ref, out, batch, tokens, kl_coef, gamma);
      break;
  }
}

}  // namespace sr::kernels
