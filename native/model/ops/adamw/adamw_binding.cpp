// JS: adamwStep({ params[], grads[], m[], v[], weightDecay: Float64Array, lr, beta1, beta2, eps, maxNorm, step,
//                 async? }) -> gradNorm (number) | Promise<number>
// Every list holds f32 NativeTensors of matching sizes, all on one device (checked here, naming the
// entry); the step runs on that device.
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "model/ops/adamw/adamw.h"

namespace sr::binding {
namespace {

constexpr Limit kLr{"lr", "lr", model::kAdamWLrRange};
constexpr Limit kBeta1{"beta1", "beta1", model::kAdamWBetaRange};
constexpr Limit kBeta2{"beta2", "beta2", model::kAdamWBetaRange};
constexpr Limit kEps{"eps", "eps", model::kAdamWEpsRange};
constexpr Limit kWeightDecay{"weightDecay", "weightDecay", model::kAdamWWeightDecayRange};  // each entry
constexpr Limit kMaxNorm{"maxNorm", "maxNorm", model::kAdamWMaxNormRange};
constexpr Limit kStep{"step", "step", model::kAdamWStepRange};

std::vector<Tensor> tensor_list(const Options& o, const char* name) {
  Napi::Value v = o.get(name);
  if (!v.IsArray()) throw_type(std::string(name) + " must be an array of Tensors");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<Tensor> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string n = std::string(name) + "[" + std::to_string(i) + "]";
    const Tensor& t = tensor_arg(a.Get(i), n.c_str());
    expect_dtype(t, DType::F32, n.c_str());
    out.push_back(t);
  }
  return out;
}

Napi::Value adamw_step(const Napi::CallbackInfo& info) {
  const Options o(info);
  auto params = tensor_list(o, "params");
  auto grads = tensor_list(o, "grads");
  auto ms = tensor_list(o, "m");
  auto vs = tensor_list(o, "v");
  if (grads.size() != params.size() || ms.size() != params.size() || vs.size() != params.size())
    throw_range("params, grads, m and v must have the same length");
  Napi::Float64Array wd = o.typed_array("weightDecay", napi_float64_array, "a Float64Array").As<Napi::Float64Array>();
  if (wd.ElementLength() != params.size()) throw_range("weightDecay must have one entry per parameter");
  model::AdamWHyper h;
  h.lr = o.number(kLr);
  h.beta1 = o.number(kBeta1);
  h.beta2 = o.number(kBeta2);
  h.eps = o.number(kEps);
  h.max_norm = o.number(kMaxNorm);
  h.step = o.integer(kStep);
  const Device dev = params.empty() ? Device::CPU : params[0].device();
  std::vector<model::AdamWTensor> list;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string n = "params[" + std::to_string(i) + "]";
    const char* names[] = {"params", "grads", "m", "v"};
    const Tensor* ts[] = {&params[i], &grads[i], &ms[i], &vs[i]};
    for (int k = 0; k < 4; ++k)
      if (ts[k]->device() != dev)
        throw_type(std::string(names[k]) + "[" + std::to_string(i) + "] is on " + device_name(ts[k]->device()) +
                   " but params[0] is on " + device_name(dev) + ": the step needs every tensor on one device");
    for (const Tensor* t : {&grads[i], &ms[i], &vs[i]})
      if (t->numel() != params[i].numel()) throw_range("grads, m and v must match the size of " + n);
    check_range(wd[i], kWeightDecay.range, "weightDecay[" + std::to_string(i) + "]");
    list.push_back({params[i].data<float>(), grads[i].data<float>(), ms[i].data<float>(), vs[i].data<float>(),
                    params[i].numel(), static_cast<float>(wd[i])});
  }
  auto norm = std::make_shared<double>(0.0);
  // The tensors are captured so their storage outlives an async job.
  auto exec = [list, h, norm, dev, keep = std::make_tuple(params, grads, ms, vs)] {
    SR_ON_DEVICE(dev, *norm = model::adamw_step_cpu(list, h), *norm = model::adamw_step_cuda(list, h));
  };
  auto result = [norm](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *norm); };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("adamwStep", make_function(env, "adamwStep", adamw_step));
  export_limits(env, exports, "adamwStep", {kLr, kBeta1, kBeta2, kEps, kWeightDecay, kMaxNorm, kStep});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(model_adamw, sr::binding::init);
