// JS: preClipRatio(logpNew, logpOld, minRatio, maxRatio, async) -> NativeTensor | Promise
#include <cmath>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "kernels/preclip_ratio/preclip_ratio.h"

namespace sr::binding {
namespace {

Napi::Value pre_clip_ratio(const Napi::CallbackInfo& info) {
  const Tensor& logp_new = tensor_arg(info[0], "logpNew");
  const Tensor& logp_old = tensor_arg(info[1], "logpOld");
  expect_dtype(logp_new, DType::F32, "logpNew");
  expect_dtype(logp_old, DType::F32, "logpOld");
  expect_same_device(logp_new, "logpNew", logp_old, "logpOld");
  expect_shape(logp_old, logp_new.shape, "logpOld");
  const double min_ratio = number_arg(info[2], "minRatio");
  const double max_ratio = number_arg(info[3], "maxRatio");
  if (!(min_ratio > 0 && min_ratio < max_ratio))
    throw_range("minRatio and maxRatio must satisfy 0 < minRatio < maxRatio");
  const bool async = bool_arg(info[4], "async");

  Tensor out = empty_tensor(logp_new.shape, DType::F32, logp_new.device());
  const float lo = static_cast<float>(std::log(min_ratio));
  const float hi = static_cast<float>(std::log(max_ratio));
  auto exec = [a = logp_new, b = logp_old, out, lo, hi] {
    if (a.device() == Device::CPU) {
      kernels::preclip_ratio_cpu(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), lo, hi);
    } else {
#ifdef SR_WITH_CUDA
      kernels::preclip_ratio_cuda(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), lo, hi);
#endif
    }
  };
  auto result = [out](Napi::Env env) -> Napi::Value { return JsTensor::wrap(env, out); };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("preClipRatio", make_function(env, "preClipRatio", pre_clip_ratio));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(preclip_ratio, sr::binding::init);
