// Group baselines for GRPO and RLOO, one advantage per sample.
//
// rewards f32 [B] holds B / k consecutive groups of k = group_size samples (one
// prompt each; B % k == 0, checked by the binding). Per group g, in double:
//   mean_g = sum(r) / k
//   std_g  = sqrt(sum((r - mean_g)^2) / (k - 1))   UNBIASED, as PyTorch's .std()
//   baseline Mean:        a = r - mean_g
//   baseline LeaveOneOut: a = r - (sum(r) - r) / (k - 1)  (= (r - mean_g) * k / (k - 1))
//   scale std:            a = a / (std_g + eps), and a = 0 where std_g + eps == 0
//                         (only when the group is constant and eps = 0)
// GRPO = Mean + std; RLOO = LeaveOneOut + none. k >= 2 is required for
// LeaveOneOut or std (the binding checks). A NaN/Inf reward makes its whole
// group NaN, as in PyTorch.
//
// CPU: groups in parallel. CUDA: one warp per group (strided loads, shuffle
// reductions broadcast from lane 0, so every lane uses the same mean/std); meant
// for groups of up to a few thousand samples. No host synchronisation.
#pragma once
#include <cstdint>

#include "core/limits.h"

namespace sr::kernels {

// Ranges of the parameters (checked by the binding, exported as native.limits.groupAdvantages); the binding
// also checks B % group_size == 0 and group_size >= 2 for LeaveOneOut or std.
inline constexpr Range kGroupSizeRange = positive_integer();
inline constexpr Range kGroupEpsRange = at_least(0);

enum class GroupBaseline : int { Mean = 0, LeaveOneOut = 1 };

void group_advantages_cpu(const float* rewards, float* out, int64_t batch, int64_t group_size, GroupBaseline baseline,
                          bool scale_std, double eps);

#ifdef SR_WITH_CUDA
void group_advantages_cuda(const float* rewards, float* out, int64_t batch, int64_t group_size, GroupBaseline baseline,
                           bool scale_std, double eps);
#endif

}  // namespace sr::kernels
