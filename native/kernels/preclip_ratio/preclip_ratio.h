// Pre-CLIP of the probability ratio (StableReinforce, change 1).
//
//   ratio[i] = exp(clamp(logp_new[i] - logp_old[i], log_min, log_max))
//
// Inputs f32, any shape (flattened, n elements), same device. Clamping before
// the exponential keeps the ratio within [exp(log_min), exp(log_max)] even for
// log-ratios of +-50 or infinite log-probs. NaN propagates (a NaN log-prob, or
// inf - inf, gives NaN): callers that must not see NaN check for it.
// One pass, no reduction, no host synchronisation.
//
// Ranges (binding preClipRatio, and policyLoss's Pre-CLIP): 1e-30 <= min_ratio < max_ratio <= 1e30,
// so that both bounds of the ratio are normal f32 numbers, which both backends compute alike (the CPU's
// fast_exp flushes results below FLT_MIN to 0, CUDA's expf would return a denormal).
#pragma once
#include <cstdint>

#include "core/limits.h"

namespace sr::kernels {

inline constexpr Range kPreClipRatioRange = closed(1e-30, 1e30);  // min_ratio and max_ratio (min < max)

void preclip_ratio_cpu(const float* logp_new, const float* logp_old, float* ratio, int64_t n, float log_min,
                       float log_max);

#ifdef SR_WITH_CUDA
void preclip_ratio_cuda(const float* logp_new, const float* logp_old, float* ratio, int64_t n, float log_min,
                        float log_max);
#endif

}  // namespace sr::kernels
