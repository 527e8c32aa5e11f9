// JS: policyLoss(logpNew, logpOld, advantages, mask?, logpRef?, clipEps, clipEpsHigh, minRatio, maxRatio,
//                dualClip?, klCoef, klEstimator, aggregation, normalizer?, async)
//   -> { loss, grad: NativeTensor, stats } | Promise of it
// mask, logpRef, dualClip and normalizer may be undefined or null (off / counted).
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "kernels/policy_loss/policy_loss.h"

namespace sr::binding {
namespace {

using kernels::KlEstimator;
using kernels::LossAggregation;

std::optional<double> optional_number(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return number_arg(v, name);
}

Napi::Value policy_loss(const Napi::CallbackInfo& info) {
  const Tensor& logp_new = tensor_arg(info[0], "logpNew");
  const Tensor& logp_old = tensor_arg(info[1], "logpOld");
  const Tensor& adv = tensor_arg(info[2], "advantages");
  const std::optional<Tensor> mask = optional_tensor_arg(info[3], "mask");
  const std::optional<Tensor> logp_ref = optional_tensor_arg(info[4], "logpRef");

  expect_dtype(logp_new, DType::F32, "logpNew");
  if (logp_new.shape.size() != 1 && logp_new.shape.size() != 2)
    throw_range("logpNew must have shape [B, T] (or [T] for one sequence), got " + logp_new.shape_string());
  const int64_t B = logp_new.shape.size() == 2 ? logp_new.shape[0] : 1;
  const int64_t T = logp_new.shape.back();
  expect_dtype(logp_old, DType::F32, "logpOld");
  expect_same_device(logp_new, "logpNew", logp_old, "logpOld");
  expect_shape(logp_old, logp_new.shape, "logpOld");
  expect_dtype(adv, DType::F32, "advantages");
  expect_same_device(logp_new, "logpNew", adv, "advantages");
  const bool adv_per_row = adv.shape != logp_new.shape;
  if (adv_per_row && adv.shape != std::vector<int64_t>{B})
    throw_range("advantages must have shape " + logp_new.shape_string() + " or [" + std::to_string(B) + "], got " +
                adv.shape_string());
  if (mask) {
    expect_dtype(*mask, DType::U8, "mask");
    expect_same_device(logp_new, "logpNew", *mask, "mask");
    expect_shape(*mask, logp_new.shape, "mask");
  }
  if (logp_ref) {
    expect_dtype(*logp_ref, DType::F32, "logpRef");
    expect_same_device(logp_new, "logpNew", *logp_ref, "logpRef");
    expect_shape(*logp_ref, logp_new.shape, "logpRef");
  }

  const double clip_eps = number_arg(info[5], "clipEps");
  const double clip_eps_high = number_arg(info[6], "clipEpsHigh");
  const double min_ratio = number_arg(info[7], "minRatio");
  const double max_ratio = number_arg(info[8], "maxRatio");
  const std::optional<double> dual_clip = optional_number(info[9], "dualClip");
  const double kl_coef = number_arg(info[10], "klCoef");
  const std::string kl_name = string_arg(info[11], "klEstimator");
  const std::string agg_name = string_arg(info[12], "aggregation");
  const std::optional<double> normalizer = optional_number(info[13], "normalizer");
  const bool async = bool_arg(info[14], "async");

  if (!(clip_eps >= 0 && clip_eps <= 1)) throw_range("clipEps must be in [0, 1], got " + std::to_string(clip_eps));
  if (!(clip_eps_high >= 0)) throw_range("clipEpsHigh must be >= 0, got " + std::to_string(clip_eps_high));
  if (!(min_ratio >= 1e-30 && min_ratio < max_ratio && max_ratio <= 1e30))
    throw_range("minRatio and maxRatio must satisfy 1e-30 <= minRatio < maxRatio <= 1e30");
  if (dual_clip && !(*dual_clip > 1)) throw_range("dualClip must be > 1, got " + std::to_string(*dual_clip));
  if (!(kl_coef >= 0)) throw_range("klCoef must be >= 0, got " + std::to_string(kl_coef));
  if (kl_coef > 0 && !logp_ref) throw_type("logpRef is required when klCoef > 0");
  KlEstimator kl;
  if (kl_name == "k1") kl = KlEstimator::K1;
  else if (kl_name == "k2") kl = KlEstimator::K2;
  else if (kl_name == "k3") kl = KlEstimator::K3;
  else throw_type("klEstimator must be 'k1', 'k2' or 'k3', got '" + kl_name + "'");
  LossAggregation agg;
  if (agg_name == "seq-mean-token-mean") agg = LossAggregation::SeqMeanTokenMean;
  else if (agg_name == "token-mean") agg = LossAggregation::TokenMean;
  else if (agg_name == "seq-mean-token-sum") agg = LossAggregation::SeqMeanTokenSum;
  else throw_type("aggregation must be 'seq-mean-token-mean', 'token-mean' or 'seq-mean-token-sum', got '" + agg_name + "'");
  if (normalizer && !(*normalizer > 0)) throw_range("normalizer must be > 0, got " + std::to_string(*normalizer));

  kernels::PolicyLossParams p;
  p.rows = B;
  p.cols = T;
  p.adv_per_row = adv_per_row;
  p.log_min = static_cast<float>(std::log(min_ratio));
  p.log_max = static_cast<float>(std::log(max_ratio));
  p.clip_low = static_cast<float>(1.0 - clip_eps);
  p.clip_high = static_cast<float>(1.0 + clip_eps_high);
  p.dual_clip = dual_clip ? static_cast<float>(*dual_clip) : std::numeric_limits<float>::infinity();
  p.kl_coef = static_cast<float>(kl_coef);
  p.kl = logp_ref ? kl : KlEstimator::None;
  p.aggregation = agg;
  p.normalizer = normalizer ? *normalizer : 0.0;

  Tensor grad = empty_tensor(logp_new.shape, DType::F32, logp_new.device());
  auto out = std::make_shared<kernels::PolicyLossResult>();
  auto exec = [a = logp_new, b = logp_old, adv, mask, logp_ref, grad, p, out] {
    kernels::PolicyLossInputs in;
    in.logp_new = a.data<float>();
    in.logp_old = b.data<float>();
    in.advantages = adv.data<float>();
    in.mask = mask ? mask->data<uint8_t>() : nullptr;
    in.logp_ref = logp_ref ? logp_ref->data<float>() : nullptr;
    in.grad = grad.data<float>();
    if (a.device() == Device::CPU) {
      *out = kernels::policy_loss_cpu(in, p);
    } else {
#ifdef SR_WITH_CUDA
      *out = kernels::policy_loss_cuda(in, p);
#endif
    }
  };
  auto result = [grad, out](Napi::Env env) -> Napi::Value {
    const kernels::PolicyLossResult& r = *out;
    Napi::Object stats = Napi::Object::New(env);
    stats.Set("clipFraction", r.clip_fraction);
    stats.Set("preClipFraction", r.pre_clip_fraction);
    stats.Set("ratioMean", r.ratio_mean);
    stats.Set("ratioMax", r.ratio_max);
    stats.Set("approxKl", r.approx_kl);
    stats.Set("klMean", r.kl_mean);
    stats.Set("validTokens", static_cast<double>(r.valid_tokens));
    stats.Set("validSequences", static_cast<double>(r.valid_sequences));
    stats.Set("nonFinite", static_cast<double>(r.non_finite));
    Napi::Object o = Napi::Object::New(env);
    o.Set("loss", r.loss);
    o.Set("grad", JsTensor::wrap(env, grad));
    o.Set("stats", stats);
    return o;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("policyLoss", make_function(env, "policyLoss", policy_loss));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(policy_loss, sr::binding::init);
