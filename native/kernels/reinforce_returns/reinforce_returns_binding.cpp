// JS: reinforceReturns(rewards, mask, logpOld | null, logpRef | null, klCoef, klEstimator, gamma, async)
//   -> NativeTensor [B, T] | Promise
#include <optional>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "kernels/reinforce_returns/reinforce_returns.h"

namespace sr::binding {
namespace {

Napi::Value reinforce_returns(const Napi::CallbackInfo& info) {
  const Tensor& rewards = tensor_arg(info[0], "rewards");
  const Tensor& mask = tensor_arg(info[1], "mask");
  expect_dtype(rewards, DType::F32, "rewards");
  expect_rank(rewards, 1, "rewards");
  expect_dtype(mask, DType::U8, "mask");
  expect_rank(mask, 2, "mask");
  expect_same_device(rewards, "rewards", mask, "mask");
  const int64_t B = rewards.shape[0];
  if (mask.shape[0] != B)
    throw_range("mask must have shape [B, T] with B = rewards.length = " + std::to_string(B) + ", got " +
                mask.shape_string());
  std::optional<Tensor> logp_old = optional_tensor_arg(info[2], "logpOld");
  std::optional<Tensor> logp_ref = optional_tensor_arg(info[3], "logpRef");
  for (auto [t, name] : {std::pair{&logp_old, "logpOld"}, std::pair{&logp_ref, "logpRef"}}) {
    if (!*t) continue;
    expect_dtype(**t, DType::F32, name);
    expect_same_device(rewards, "rewards", **t, name);
    expect_shape(**t, mask.shape, name);
  }
  const double kl_coef = number_arg(info[4], "klCoef");
  if (!(kl_coef >= 0)) throw_range("klCoef must be >= 0, got " + std::to_string(kl_coef));
  if (kl_coef > 0 && !logp_old) throw_type("logpOld is required when klCoef > 0");
  if (kl_coef > 0 && !logp_ref) throw_type("logpRef is required when klCoef > 0");
  const std::string est_name = string_arg(info[5], "klEstimator");
  kernels::KlEstimator est;
  if (est_name == "k1") {
    est = kernels::KlEstimator::K1;
  } else if (est_name == "k2") {
    est = kernels::KlEstimator::K2;
  } else if (est_name == "k3") {
    est = kernels::KlEstimator::K3;
  } else {
    throw_type("klEstimator must be 'k1', 'k2' or 'k3', got '" + est_name + "'");
  }
  const double gamma = number_arg(info[6], "gamma");
  if (!(gamma >= 0 && gamma <= 1)) throw_range("gamma must be in [0, 1], got " + std::to_string(gamma));
  const bool async = bool_arg(info[7], "async");

  Tensor out = empty_tensor(mask.shape, DType::F32, mask.device());
  // Empty tensors stand for "not given"; they are only read when klCoef > 0.
  Tensor old_t = kl_coef > 0 ? *logp_old : Tensor{};
  Tensor ref_t = kl_coef > 0 ? *logp_ref : Tensor{};
  const int64_t T = mask.shape[1];
  auto exec = [r = rewards, m = mask, old_t, ref_t, out, B, T, kl_coef, est, gamma] {
    const float* po = old_t.storage ? old_t.data<float>() : nullptr;
    const float* pr = ref_t.storage ? ref_t.data<float>() : nullptr;
    if (r.device() == Device::CPU) {
      kernels::reinforce_returns_cpu(r.data<float>(), m.data<uint8_t>(), po, pr, out.data<float>(), B, T, kl_coef,
                                     est, gamma);
    } else {
#ifdef SR_WITH_CUDA
      kernels::reinforce_returns_cuda(r.data<float>(), m.data<uint8_t>(), po, pr, out.data<float>(), B, T, kl_coef,
                                      est, gamma);
#endif
    }
  };
  auto result = [out](Napi::Env env) -> Napi::Value { return JsTensor::wrap(env, out); };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("reinforceReturns", make_function(env, "reinforceReturns", reinforce_returns));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(reinforce_returns, sr::binding::init);
