// JS: advantageFilter(values, mask | null, sigma, eps, rule, async)
//   -> { advantages, mean, std, kept, filtered, nonFinite } | Promise of it
#include <memory>
#include <optional>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "kernels/advantage_filter/advantage_filter.h"

namespace sr::binding {
namespace {

Napi::Value advantage_filter(const Napi::CallbackInfo& info) {
  const Tensor& values = tensor_arg(info[0], "values");
  expect_dtype(values, DType::F32, "values");
  std::optional<Tensor> mask = optional_tensor_arg(info[1], "mask");
  if (mask) {
    expect_dtype(*mask, DType::U8, "mask");
    expect_same_device(values, "values", *mask, "mask");
    expect_shape(*mask, values.shape, "mask");
  }
  const double sigma = number_arg(info[2], "sigma");
  if (!(sigma > 0)) throw_range("sigma must be > 0, got " + std::to_string(sigma));
  const double eps = number_arg(info[3], "eps");
  if (!(eps >= 0)) throw_range("eps must be >= 0, got " + std::to_string(eps));
  const std::string rule_name = string_arg(info[4], "rule");
  kernels::FilterRule rule;
  if (rule_name == "paper") {
    rule = kernels::FilterRule::Paper;
  } else if (rule_name == "released-code") {
    rule = kernels::FilterRule::ReleasedCode;
  } else {
    throw_type("rule must be 'paper' or 'released-code', got '" + rule_name + "'");
  }
  const bool async = bool_arg(info[5], "async");

  Tensor out = empty_tensor(values.shape, DType::F32, values.device());
  auto stats = std::make_shared<kernels::AdvantageFilterStats>();
  // The optional mask travels as a (possibly empty) Tensor so that the job keeps it alive.
  Tensor m = mask ? *mask : Tensor{};
  auto exec = [v = values, m, out, sigma, eps, rule, stats] {
    const uint8_t* mp = m.storage ? m.data<uint8_t>() : nullptr;
    if (v.device() == Device::CPU) {
      kernels::advantage_filter_cpu(v.data<float>(), mp, out.data<float>(), v.numel(), sigma, eps, rule, stats.get());
    } else {
#ifdef SR_WITH_CUDA
      kernels::advantage_filter_cuda(v.data<float>(), mp, out.data<float>(), v.numel(), sigma, eps, rule, stats.get());
#endif
    }
  };
  auto result = [out, stats](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("advantages", JsTensor::wrap(env, out));
    r.Set("mean", stats->mean);
    r.Set("std", stats->std);
    r.Set("kept", static_cast<double>(stats->kept));
    r.Set("filtered", static_cast<double>(stats->filtered));
    r.Set("nonFinite", static_cast<double>(stats->non_finite));
    return r;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("advantageFilter", make_function(env, "advantageFilter", advantage_filter));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(advantage_filter, sr::binding::init);
