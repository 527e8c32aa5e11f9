// Advantage Filter (StableReinforce, change 2): batch standardisation with a
// 3-sigma rule.
//
//   valid[i] = (mask == null || mask[i] != 0) && isfinite(values[i])
//   mean, std over the valid entries; std is the POPULATION std (divides by the
//   count, not count - 1), both computed in double
//   z[i] = (values[i] - mean) * inv,  inv = 1 / (std + eps), or 0 when std == 0
//   out[i] = z[i] if valid[i] and the rule keeps it, else 0
//
// Rules:
//   Paper:        keep |z| <= sigma.
//   ReleasedCode: keep mean - sigma <= z <= mean + sigma and |z| <= 10, where
//                 mean is the raw mean before standardising (the authors'
//                 released code; a reproduction aid, not the paper's rule).
//
// values f32 and mask u8 (optional, same element count), any shape, flattened
// to n elements, one device. Masked entries give 0 and are not counted.
// Entries under the mask that are NaN/Inf give 0, are counted in non_finite and
// are excluded from mean/std. No valid entry: mean = std = 0, all zeros. Zero
// variance: every z is 0 and every valid entry is kept.
//
// Accuracy: each CPU chunk / CUDA thread sums values minus a shift (its first
// valid value) and partials are merged with Chan's formula, so a large common
// offset (1e4 + noise) still gives an accurate std; z is computed in double.
// Deterministic: CPU chunks and the CUDA grid depend only on n.
//
// CUDA: reduction kernel -> finalize kernel (stats stay in device memory) ->
// apply kernel; the only host synchronisation is the readback of the stats.
#pragma once
#include <cstdint>

#include "core/limits.h"

namespace sr::kernels {

// Ranges of the parameters (checked by the binding, exported as native.limits.advantageFilter).
inline constexpr Range kFilterSigmaRange = above(0);   // sigma > 0
inline constexpr Range kFilterEpsRange = at_least(0);  // eps >= 0

enum class FilterRule : int { Paper = 0, ReleasedCode = 1 };

struct AdvantageFilterStats {
  double mean = 0;
  double std = 0;
  int64_t kept = 0;        // valid finite entries kept
  int64_t filtered = 0;    // valid finite entries zeroed by the rule
  int64_t non_finite = 0;  // entries under the mask that are NaN or +-Inf
};

// Largest |z| the released code keeps (its second filter).
constexpr double kReleasedCodeZLimit = 10.0;

void advantage_filter_cpu(const float* values, const uint8_t* mask, float* out, int64_t n, double sigma, double eps,
                          FilterRule rule, AdvantageFilterStats* stats);

#ifdef SR_WITH_CUDA
void advantage_filter_cuda(const float* values, const uint8_t* mask, float* out, int64_t n, double sigma, double eps,
                           FilterRule rule, AdvantageFilterStats* stats);
#endif

}  // namespace sr::kernels
