// JS: adamwStep(params[], grads[], m[], v[], weightDecay: Float64Array, hyper {lr, beta1, beta2, eps, maxNorm, step},
//               async) -> gradNorm (number) | Promise<number>
// Every list holds f32 NativeTensors of matching sizes, all on one device (checked here, naming the
// entry); the step runs on that device.
#include <cmath>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "model/ops/adamw/adamw.h"

namespace sr::binding {
namespace {

std::vector<Tensor> tensor_list(const Napi::Value& v, const char* name) {
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
  auto params = tensor_list(info[0], "params");
  auto grads = tensor_list(info[1], "grads");
  auto ms = tensor_list(info[2], "m");
  auto vs = tensor_list(info[3], "v");
  if (grads.size() != params.size() || ms.size() != params.size() || vs.size() != params.size())
    throw_range("params, grads, m and v must have the same length");
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw_type("weightDecay must be a Float64Array");
  Napi::Float64Array wd = info[4].As<Napi::Float64Array>();
  if (wd.ElementLength() != params.size()) throw_range("weightDecay must have one entry per parameter");
  if (!info[5].IsObject()) throw_type("hyper must be an object");
  Napi::Object hy = info[5].As<Napi::Object>();
  model::AdamWHyper h;
  h.lr = number_arg(hy.Get("lr"), "lr");
  h.beta1 = number_arg(hy.Get("beta1"), "beta1");
  h.beta2 = number_arg(hy.Get("beta2"), "beta2");
  h.eps = number_arg(hy.Get("eps"), "eps");
  h.max_norm = number_arg(hy.Get("maxNorm"), "maxNorm");
  h.step = static_cast<int64_t>(number_arg(hy.Get("step"), "step"));
  if (!(h.lr >= 0) || !(h.beta1 >= 0 && h.beta1 < 1) || !(h.beta2 >= 0 && h.beta2 < 1) || !(h.eps > 0) || h.step < 1)
    throw_range("AdamW hyper-parameters out of range (lr >= 0, 0 <= betas < 1, eps > 0, step >= 1)");
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
    list.push_back({params[i].data<float>(), grads[i].data<float>(), ms[i].data<float>(), vs[i].data<float>(),
                    params[i].numel(), static_cast<float>(wd[i])});
  }
  const bool async = bool_arg(info[6], "async");
  auto norm = std::make_shared<double>(0.0);
  // The tensors are captured so their storage outlives an async job.
  auto exec = [list, h, norm, dev, keep = std::make_tuple(params, grads, ms, vs)] {
    if (dev == Device::CPU) {
      *norm = model::adamw_step_cpu(list, h);
    } else {
#ifdef SR_WITH_CUDA
      *norm = model::adamw_step_cuda(list, h);
#else
      throw_runtime("adamwStep: this build has no CUDA");
#endif
    }
  };
  auto result = [norm](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *norm); };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) { exports.Set("adamwStep", make_function(env, "adamwStep", adamw_step)); }

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(model_adamw, sr::binding::init);
