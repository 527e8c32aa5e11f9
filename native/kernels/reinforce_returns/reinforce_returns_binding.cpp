// JS: reinforceReturns({ rewards, mask, logpOld?, logpRef?, klCoef, klEstimator, gamma, async? })
//   -> NativeTensor [B, T] | Promise
#include <optional>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "kernels/reinforce_returns/reinforce_returns.h"

namespace sr::binding {
namespace {

using kernels::KlEstimator;

// The TypeScript API takes one `inputs` object: every input is named "inputs.<key>".
constexpr Limit kKlCoef{"klCoef", "inputs.klCoef", kernels::kReturnsKlCoefRange};
constexpr Limit kGamma{"gamma", "inputs.gamma", kernels::kReturnsGammaRange};
constexpr Choice<KlEstimator> kEstimators[] = {
    {"k1", KlEstimator::K1}, {"k2", KlEstimator::K2}, {"k3", KlEstimator::K3}};

Napi::Value reinforce_returns(const Napi::CallbackInfo& info) {
  const Options o(info, "inputs.");
  const Tensor& rewards = o.tensor("rewards");
  const Tensor& mask = o.tensor("mask");
  expect_dtype(rewards, DType::F32, "inputs.rewards");
  expect_rank(rewards, 1, "inputs.rewards", "[B]");
  expect_dtype(mask, DType::U8, "inputs.mask");
  expect_same_device(rewards, "inputs.rewards", mask, "inputs.mask");
  const int64_t B = rewards.shape[0];
  if (mask.shape.size() != 2 || mask.shape[0] != B)
    throw_range("inputs.mask must have shape [" + std::to_string(B) + ", T] (B = rewards.length), got " +
                mask.shape_string());
  std::optional<Tensor> logp_old = o.optional_tensor("logpOld");
  std::optional<Tensor> logp_ref = o.optional_tensor("logpRef");
  for (auto [t, name] : {std::pair{&logp_old, "inputs.logpOld"}, std::pair{&logp_ref, "inputs.logpRef"}}) {
    if (!*t) continue;
    expect_dtype(**t, DType::F32, name);
    expect_same_device(rewards, "inputs.rewards", **t, name);
    expect_shape(**t, mask.shape, name);
  }
  const double kl_coef = o.number(kKlCoef);
  if (kl_coef > 0 && !logp_old) throw_type("inputs.logpOld is required when klCoef > 0");
  if (kl_coef > 0 && !logp_ref) throw_type("inputs.logpRef is required when klCoef > 0");
  const KlEstimator est = o.choice("klEstimator", kEstimators);
  const double gamma = o.number(kGamma);

  Tensor out = empty_tensor(mask.shape, DType::F32, mask.device());
  // Empty tensors stand for "not given"; they are only read when klCoef > 0.
  Tensor old_t = kl_coef > 0 ? *logp_old : Tensor{};
  Tensor ref_t = kl_coef > 0 ? *logp_ref : Tensor{};
  const int64_t T = mask.shape[1];
  auto exec = [r = rewards, m = mask, old_t, ref_t, out, B, T, kl_coef, est, gamma] {
    const float* po = old_t.storage ? old_t.data<float>() : nullptr;
    const float* pr = ref_t.storage ? ref_t.data<float>() : nullptr;
    SR_ON_DEVICE(r.device(),
                 kernels::reinforce_returns_cpu(r.data<float>(), m.data<uint8_t>(), po, pr, out.data<float>(), B, T,
                                                kl_coef, est, gamma),
                 kernels::reinforce_returns_cuda(r.data<float>(), m.data<uint8_t>(), po, pr, out.data<float>(), B, T,
                                                 kl_coef, est, gamma));
  };
  auto result = [out](Napi::Env env) -> Napi::Value { return JsTensor::wrap(env, out); };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("reinforceReturns", make_function(env, "reinforceReturns", reinforce_returns));
  export_limits(env, exports, "reinforceReturns", {kKlCoef, kGamma});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(reinforce_returns, sr::binding::init);
