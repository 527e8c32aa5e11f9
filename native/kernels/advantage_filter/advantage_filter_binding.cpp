// JS: advantageFilter({ values, mask?, sigma, eps, rule, async? })
//   -> { advantages, mean, std, kept, filtered, nonFinite } | Promise of it
#include <memory>
#include <optional>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "kernels/advantage_filter/advantage_filter.h"

namespace sr::binding {
namespace {

using kernels::FilterRule;

constexpr Limit kSigma{"sigma", "options.sigma", kernels::kFilterSigmaRange};
constexpr Limit kEps{"eps", "options.eps", kernels::kFilterEpsRange};
constexpr Choice<FilterRule> kRules[] = {{"paper", FilterRule::Paper}, {"released-code", FilterRule::ReleasedCode}};

Napi::Value advantage_filter(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Tensor& values = o.tensor("values");
  expect_dtype(values, DType::F32, "values");
  std::optional<Tensor> mask = o.optional_tensor("mask", "options.mask");
  if (mask) {
    expect_dtype(*mask, DType::U8, "options.mask");
    expect_same_device(values, "values", *mask, "options.mask");
    expect_shape(*mask, values.shape, "options.mask");
  }
  const double sigma = o.number(kSigma);
  const double eps = o.number(kEps);
  const FilterRule rule = o.choice("rule", kRules, "options.rule");

  Tensor out = empty_tensor(values.shape, DType::F32, values.device());
  auto stats = std::make_shared<kernels::AdvantageFilterStats>();
  // The optional mask travels as a (possibly empty) Tensor so that the job keeps it alive.
  Tensor m = mask ? *mask : Tensor{};
  auto exec = [v = values, m, out, sigma, eps, rule, stats] {
    const uint8_t* mp = m.storage ? m.data<uint8_t>() : nullptr;
    SR_ON_DEVICE(
        v.device(),
        kernels::advantage_filter_cpu(v.data<float>(), mp, out.data<float>(), v.numel(), sigma, eps, rule, stats.get()),
        kernels::advantage_filter_cuda(v.data<float>(), mp, out.data<float>(), v.numel(), sigma, eps, rule,
                                       stats.get()));
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
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("advantageFilter", make_function(env, "advantageFilter", advantage_filter));
  export_limits(env, exports, "advantageFilter", {kSigma, kEps});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(advantage_filter, sr::binding::init);
