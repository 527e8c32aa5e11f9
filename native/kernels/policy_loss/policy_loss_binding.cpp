// JS: policyLoss({ logpNew, logpOld, advantages, mask?, logpRef?, clipEps, clipEpsHigh, minRatio, maxRatio,
//                  dualClip?, klCoef, klEstimator, aggregation, normalizer?, async? })
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
#include "core/device_dispatch.h"
#include "kernels/policy_loss/policy_loss.h"

namespace sr::binding {
namespace {

using kernels::KlEstimator;
using kernels::LossAggregation;

constexpr Limit kClipEps{"clipEps", "clipEps", kernels::kClipEpsRange};
constexpr Limit kClipEpsHigh{"clipEpsHigh", "clipEpsHigh", kernels::kClipEpsHighRange};
constexpr Limit kMinRatio{"minRatio", "minRatio", kernels::kPreClipRatioRange};
constexpr Limit kMaxRatio{"maxRatio", "maxRatio", kernels::kPreClipRatioRange};
constexpr Limit kDualClip{"dualClip", "dualClip", kernels::kDualClipRange};
constexpr Limit kKlCoef{"klCoef", "klCoef", kernels::kPolicyKlCoefRange};
constexpr Limit kNormalizer{"normalizer", "normalizer", kernels::kNormalizerRange};
constexpr Choice<KlEstimator> kEstimators[] = {
    {"k1", KlEstimator::K1}, {"k2", KlEstimator::K2}, {"k3", KlEstimator::K3}};
constexpr Choice<LossAggregation> kAggregations[] = {{"seq-mean-token-mean", LossAggregation::SeqMeanTokenMean},
                                                     {"token-mean", LossAggregation::TokenMean},
                                                     {"seq-mean-token-sum", LossAggregation::SeqMeanTokenSum}};

Napi::Value policy_loss(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Tensor& logp_new = o.tensor("logpNew");
  const Tensor& logp_old = o.tensor("logpOld");
  const Tensor& adv = o.tensor("advantages");
  const std::optional<Tensor> mask = o.optional_tensor("mask");
  const std::optional<Tensor> logp_ref = o.optional_tensor("logpRef");

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

  const double clip_eps = o.number(kClipEps);
  const double clip_eps_high = o.number(kClipEpsHigh);
  const double min_ratio = o.number(kMinRatio);
  const double max_ratio = o.number(kMaxRatio);
  if (!(min_ratio < max_ratio))
    throw_range("minRatio must be < maxRatio, got " + js_number(min_ratio) + " and " + js_number(max_ratio));
  const std::optional<double> dual_clip = o.optional_number(kDualClip);
  const double kl_coef = o.number(kKlCoef);
  if (kl_coef > 0 && !logp_ref) throw_type("logpRef is required when klCoef > 0");
  const KlEstimator kl = o.choice("klEstimator", kEstimators);
  const LossAggregation agg = o.choice("aggregation", kAggregations);
  const std::optional<double> normalizer = o.optional_number(kNormalizer);

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
    SR_ON_DEVICE(a.device(), *out = kernels::policy_loss_cpu(in, p), *out = kernels::policy_loss_cuda(in, p));
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
    Napi::Object res = Napi::Object::New(env);
    res.Set("loss", r.loss);
    res.Set("grad", JsTensor::wrap(env, grad));
    res.Set("stats", stats);
    return res;
  };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("policyLoss", make_function(env, "policyLoss", policy_loss));
  export_limits(env, exports, "policyLoss",
                {kClipEps, kClipEpsHigh, kMinRatio, kMaxRatio, kDualClip, kKlCoef, kNormalizer});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(policy_loss, sr::binding::init);
