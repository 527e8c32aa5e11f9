// JS: preClipRatio({ logpNew, logpOld, minRatio, maxRatio, async? }) -> NativeTensor | Promise
#include <cmath>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "kernels/preclip_ratio/preclip_ratio.h"

namespace sr::binding {
namespace {

constexpr Limit kMinRatio{"minRatio", "options.minRatio", kernels::kPreClipRatioRange};
constexpr Limit kMaxRatio{"maxRatio", "options.maxRatio", kernels::kPreClipRatioRange};

Napi::Value pre_clip_ratio(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Tensor& logp_new = o.tensor("logpNew");
  const Tensor& logp_old = o.tensor("logpOld");
  expect_dtype(logp_new, DType::F32, "logpNew");
  expect_dtype(logp_old, DType::F32, "logpOld");
  expect_same_device(logp_new, "logpNew", logp_old, "logpOld");
  expect_shape(logp_old, logp_new.shape, "logpOld");
  const double min_ratio = o.number(kMinRatio);
  const double max_ratio = o.number(kMaxRatio);
  if (!(min_ratio < max_ratio))
    throw_range("options.minRatio must be < options.maxRatio, got " + js_number(min_ratio) + " and " +
                js_number(max_ratio));

  Tensor out = empty_tensor(logp_new.shape, DType::F32, logp_new.device());
  const float lo = static_cast<float>(std::log(min_ratio));
  const float hi = static_cast<float>(std::log(max_ratio));
  auto exec = [a = logp_new, b = logp_old, out, lo, hi] {
    SR_ON_DEVICE(a.device(),
                 kernels::preclip_ratio_cpu(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), lo, hi),
                 kernels::preclip_ratio_cuda(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), lo, hi));
  };
  auto result = [out](Napi::Env env) -> Napi::Value { return JsTensor::wrap(env, out); };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("preClipRatio", make_function(env, "preClipRatio", pre_clip_ratio));
  export_limits(env, exports, "preClipRatio", {kMinRatio, kMaxRatio});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(preclip_ratio, sr::binding::init);
