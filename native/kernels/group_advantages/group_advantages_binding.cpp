// JS: groupAdvantages({ rewards, groupSize, scale, baseline, eps, async? }) -> NativeTensor [B] | Promise
#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "kernels/group_advantages/group_advantages.h"

namespace sr::binding {
namespace {

using kernels::GroupBaseline;

constexpr Limit kGroupSize{"groupSize", "options.groupSize", kernels::kGroupSizeRange};
constexpr Limit kEps{"eps", "options.eps", kernels::kGroupEpsRange};
constexpr Choice<bool> kScales[] = {{"std", true}, {"none", false}};  // scale by the group's std?
constexpr Choice<GroupBaseline> kBaselines[] = {{"mean", GroupBaseline::Mean},
                                                {"leave-one-out", GroupBaseline::LeaveOneOut}};

Napi::Value group_advantages(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Tensor& rewards = o.tensor("rewards");
  expect_dtype(rewards, DType::F32, "rewards");
  expect_rank(rewards, 1, "rewards", "[B]");
  const int64_t k = o.integer(kGroupSize);
  const bool scale_std = o.choice("scale", kScales, "options.scale");
  const GroupBaseline baseline = o.choice("baseline", kBaselines, "options.baseline");
  const double eps = o.number(kEps);
  const int64_t B = rewards.shape[0];
  if (B % k != 0)
    throw_range("options.groupSize (" + std::to_string(k) + ") must divide the number of rewards (" +
                std::to_string(B) + ")");
  if (k < 2 && (scale_std || baseline == GroupBaseline::LeaveOneOut))
    throw_range("options.groupSize must be >= 2 for scale 'std' or baseline 'leave-one-out', got " + std::to_string(k));

  Tensor out = empty_tensor(rewards.shape, DType::F32, rewards.device());
  auto exec = [r = rewards, out, B, k, baseline, scale_std, eps] {
    SR_ON_DEVICE(r.device(),
                 kernels::group_advantages_cpu(r.data<float>(), out.data<float>(), B, k, baseline, scale_std, eps),
                 kernels::group_advantages_cuda(r.data<float>(), out.data<float>(), B, k, baseline, scale_std, eps));
  };
  auto result = [out](Napi::Env env) -> Napi::Value { return JsTensor::wrap(env, out); };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("groupAdvantages", make_function(env, "groupAdvantages", group_advantages));
  export_limits(env, exports, "groupAdvantages", {kGroupSize, kEps});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(group_advantages, sr::binding::init);
