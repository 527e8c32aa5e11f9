// JS: groupAdvantages(rewards, groupSize, scale, baseline, eps, async) -> NativeTensor [B] | Promise
#include <cmath>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "kernels/group_advantages/group_advantages.h"

namespace sr::binding {
namespace {

Napi::Value group_advantages(const Napi::CallbackInfo& info) {
  const Tensor& rewards = tensor_arg(info[0], "rewards");
  expect_dtype(rewards, DType::F32, "rewards");
  expect_rank(rewards, 1, "rewards");
  const double k_num = number_arg(info[1], "groupSize");
  if (!(k_num >= 1 && k_num <= 9007199254740991.0) || k_num != std::floor(k_num))
    throw_range("groupSize must be a positive integer, got " + std::to_string(k_num));
  const std::string scale = string_arg(info[2], "scale");
  if (scale != "std" && scale != "none") throw_type("scale must be 'std' or 'none', got '" + scale + "'");
  const std::string baseline_name = string_arg(info[3], "baseline");
  kernels::GroupBaseline baseline;
  if (baseline_name == "mean") {
    baseline = kernels::GroupBaseline::Mean;
  } else if (baseline_name == "leave-one-out") {
    baseline = kernels::GroupBaseline::LeaveOneOut;
  } else {
    throw_type("baseline must be 'mean' or 'leave-one-out', got '" + baseline_name + "'");
  }
  const double eps = number_arg(info[4], "eps");
  if (!(eps >= 0)) throw_range("eps must be >= 0, got " + std::to_string(eps));
  const bool async = bool_arg(info[5], "async");
  const int64_t B = rewards.shape[0];
  const bool scale_std = scale == "std";
  const int64_t k = static_cast<int64_t>(k_num);
  if (B % k != 0)
    throw_range("groupSize (" + std::to_string(k) + ") must divide the number of rewards (" + std::to_string(B) + ")");
  if (k < 2 && (scale_std || baseline == kernels::GroupBaseline::LeaveOneOut))
    throw_range("groupSize must be >= 2 for scale 'std' or baseline 'leave-one-out'");

  Tensor out = empty_tensor(rewards.shape, DType::F32, rewards.device());
  auto exec = [r = rewards, out, B, k, baseline, scale_std, eps] {
    if (r.device() == Device::CPU) {
      kernels::group_advantages_cpu(r.data<float>(), out.data<float>(), B, k, baseline, scale_std, eps);
    } else {
#ifdef SR_WITH_CUDA
      kernels::group_advantages_cuda(r.data<float>(), out.data<float>(), B, k, baseline, scale_std, eps);
#endif
    }
  };
  auto result = [out](Napi::Env env) -> Napi::Value { return JsTensor::wrap(env, out); };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("groupAdvantages", make_function(env, "groupAdvantages", group_advantages));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(group_advantages, sr::binding::init);
