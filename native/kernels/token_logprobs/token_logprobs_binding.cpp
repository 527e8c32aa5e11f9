// JS: tokenLogprobs({ logits, tokens, temperature, entropy, async? })
//       -> { logprobs, entropy?, nonFiniteRows, firstNonFiniteRow } | Promise
//     tokenLogprobsBackward({ logits, tokens, gradLogprobs, gradEntropy?, temperature, async? })
//       -> { grad, nonFiniteRows, firstNonFiniteRow } | Promise
// A token out of range is a RangeError here (also for async calls: the job
// fails); what to do with non-finite rows is left to the TypeScript layer.
#include <memory>
#include <optional>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "kernels/token_logprobs/token_logprobs.h"

namespace sr::binding {
namespace {

using kernels::TokenLogprobsStatus;

constexpr Limit kTemperature{"temperature", "options.temperature", kernels::kTemperatureRange};

struct Common {
  Tensor logits;
  Tensor tokens;
  int64_t n = 0;
  int64_t v = 0;
  float inv_t = 1.0f;
};

Common parse_common(const Options& o) {
  Common c;
  c.logits = o.tensor("logits");
  c.tokens = o.tensor("tokens");
  if (c.logits.dtype != DType::F32 && c.logits.dtype != DType::BF16)
    throw_type(std::string("logits must have dtype f32 or bf16, got ") + dtype_name(c.logits.dtype));
  expect_rank(c.logits, 2, "logits", "[N, V]");
  expect_dtype(c.tokens, DType::I32, "tokens");
  c.n = c.logits.shape[0];
  c.v = c.logits.shape[1];
  expect_shape(c.tokens, {c.n}, "tokens");
  expect_same_device(c.logits, "logits", c.tokens, "tokens");
  if (c.n > 0 && c.v == 0)
    throw_range("logits must have at least one column (vocabulary size), got shape " + c.logits.shape_string());
  c.inv_t = static_cast<float>(1.0 / o.number(kTemperature));
  return c;
}

// Throws the RangeError for a bad token (read back by the kernel's status).
void raise_bad_token(const TokenLogprobsStatus& st, int64_t v) {
  if (st.bad_token_row < 0) return;
  throw_range("tokens[" + std::to_string(st.bad_token_row) + "] = " + std::to_string(st.bad_token_value) +
              " is out of range [0, " + std::to_string(v) + ") (the vocabulary size is logits.shape[1])");
}

void set_status(Napi::Env env, Napi::Object& out, const TokenLogprobsStatus& st) {
  out.Set("nonFiniteRows", Napi::Number::New(env, static_cast<double>(st.nonfinite_rows)));
  out.Set("firstNonFiniteRow", Napi::Number::New(env, static_cast<double>(st.first_nonfinite_row)));
}

Napi::Value token_logprobs(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Common c = parse_common(o);
  const bool with_entropy = o.boolean("entropy", "options.entropy");

  const Device device = c.logits.device();
  Tensor lp = empty_tensor({c.n}, DType::F32, device);
  std::optional<Tensor> ent;
  if (with_entropy) ent = empty_tensor({c.n}, DType::F32, device);
  auto status = std::make_shared<TokenLogprobsStatus>();
  auto exec = [c, lp, ent, status] {
    const bool bf16 = c.logits.dtype == DType::BF16;
    float* ent_ptr = ent ? ent->data<float>() : nullptr;
    SR_ON_DEVICE(c.logits.device(),
                 *status = kernels::token_logprobs_cpu(c.logits.storage->data(), bf16, c.tokens.data<int32_t>(), c.n,
                                                       c.v, c.inv_t, lp.data<float>(), ent_ptr),
                 *status = kernels::token_logprobs_cuda(c.logits.storage->data(), bf16, c.tokens.data<int32_t>(), c.n,
                                                        c.v, c.inv_t, lp.data<float>(), ent_ptr));
    raise_bad_token(*status, c.v);
  };
  auto result = [lp, ent, status](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("logprobs", JsTensor::wrap(env, lp));
    if (ent) out.Set("entropy", JsTensor::wrap(env, *ent));
    set_status(env, out, *status);
    return out;
  };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

Napi::Value token_logprobs_backward(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Common c = parse_common(o);
  const Tensor& glp = o.tensor("gradLogprobs");
  expect_dtype(glp, DType::F32, "gradLogprobs");
  expect_shape(glp, {c.n}, "gradLogprobs");
  expect_same_device(c.logits, "logits", glp, "gradLogprobs");
  std::optional<Tensor> gh = o.optional_tensor("gradEntropy", "options.gradEntropy");
  if (gh) {
    expect_dtype(*gh, DType::F32, "options.gradEntropy");
    expect_shape(*gh, {c.n}, "options.gradEntropy");
    expect_same_device(c.logits, "logits", *gh, "options.gradEntropy");
  }

  Tensor grad = empty_tensor(c.logits.shape, c.logits.dtype, c.logits.device());
  auto status = std::make_shared<TokenLogprobsStatus>();
  auto exec = [c, glp, gh, grad, status] {
    const bool bf16 = c.logits.dtype == DType::BF16;
    const float* gh_ptr = gh ? gh->data<float>() : nullptr;
    SR_ON_DEVICE(c.logits.device(),
                 *status = kernels::token_logprobs_backward_cpu(c.logits.storage->data(), bf16,
                                                                c.tokens.data<int32_t>(), glp.data<float>(), gh_ptr,
                                                                c.n, c.v, c.inv_t, grad.storage->data()),
                 *status = kernels::token_logprobs_backward_cuda(c.logits.storage->data(), bf16,
                                                                 c.tokens.data<int32_t>(), glp.data<float>(), gh_ptr,
                                                                 c.n, c.v, c.inv_t, grad.storage->data()));
    raise_bad_token(*status, c.v);
  };
  auto result = [grad, status](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("grad", JsTensor::wrap(env, grad));
    set_status(env, out, *status);
    return out;
  };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("tokenLogprobs", make_function(env, "tokenLogprobs", token_logprobs));
  exports.Set("tokenLogprobsBackward", make_function(env, "tokenLogprobsBackward", token_logprobs_backward));
  export_limits(env, exports, "tokenLogprobs", {kTemperature});
  export_limits(env, exports, "tokenLogprobsBackward", {kTemperature});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(token_logprobs, sr::binding::init);
