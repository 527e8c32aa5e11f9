// JS: tokenLogprobs(logits, tokens, temperature, entropy, async)
//       -> { logprobs, entropy?, nonFiniteRows, firstNonFiniteRow } | Promise
//     tokenLogprobsBackward(logits, tokens, gradLogprobs, gradEntropy | undefined, temperature, async)
//       -> { grad, nonFiniteRows, firstNonFiniteRow } | Promise
// A token out of range is a RangeError here (also for async calls: the job
// fails); what to do with non-finite rows is left to the TypeScript layer.
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "kernels/token_logprobs/token_logprobs.h"

namespace sr::binding {
namespace {

using kernels::TokenLogprobsStatus;

struct Common {
  Tensor logits;
  Tensor tokens;
  int64_t n = 0;
  int64_t v = 0;
  float inv_t = 1.0f;
};

Common parse_common(const Napi::CallbackInfo& info, const Napi::Value& temperature) {
  Common c;
  c.logits = tensor_arg(info[0], "logits");
  c.tokens = tensor_arg(info[1], "tokens");
  if (c.logits.dtype != DType::F32 && c.logits.dtype != DType::BF16)
    throw_type(std::string("logits must have dtype f32 or bf16, got ") + dtype_name(c.logits.dtype));
  expect_rank(c.logits, 2, "logits");
  expect_dtype(c.tokens, DType::I32, "tokens");
  c.n = c.logits.shape[0];
  c.v = c.logits.shape[1];
  expect_shape(c.tokens, {c.n}, "tokens");
  expect_same_device(c.logits, "logits", c.tokens, "tokens");
  if (c.n > 0 && c.v == 0) throw_range("logits must have at least one column (vocabulary size), got shape " +
                                       c.logits.shape_string());
  const double temp = number_arg(temperature, "temperature");
  const float inv_t = static_cast<float>(1.0 / temp);
  if (!(temp > 0) || !std::isnormal(inv_t))
    throw_range("temperature must be > 0 with 1/temperature a normal f32, got " + std::to_string(temp));
  c.inv_t = inv_t;
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
  const Common c = parse_common(info, info[2]);
  const bool with_entropy = bool_arg(info[3], "entropy");
  const bool async = bool_arg(info[4], "async");

  const Device device = c.logits.device();
  Tensor lp = empty_tensor({c.n}, DType::F32, device);
  std::optional<Tensor> ent;
  if (with_entropy) ent = empty_tensor({c.n}, DType::F32, device);
  auto status = std::make_shared<TokenLogprobsStatus>();
  auto exec = [c, lp, ent, status] {
    const bool bf16 = c.logits.dtype == DType::BF16;
    float* ent_ptr = ent ? ent->data<float>() : nullptr;
    if (c.logits.device() == Device::CPU) {
      *status = kernels::token_logprobs_cpu(c.logits.storage->data(), bf16, c.tokens.data<int32_t>(), c.n, c.v,
                                            c.inv_t, lp.data<float>(), ent_ptr);
    } else {
#ifdef SR_WITH_CUDA
      *status = kernels::token_logprobs_cuda(c.logits.storage->data(), bf16, c.tokens.data<int32_t>(), c.n, c.v,
                                             c.inv_t, lp.data<float>(), ent_ptr);
#endif
    }
    raise_bad_token(*status, c.v);
  };
  auto result = [lp, ent, status](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("logprobs", JsTensor::wrap(env, lp));
    if (ent) out.Set("entropy", JsTensor::wrap(env, *ent));
    set_status(env, out, *status);
    return out;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

Napi::Value token_logprobs_backward(const Napi::CallbackInfo& info) {
  const Common c = parse_common(info, info[4]);
  const Tensor& glp = tensor_arg(info[2], "gradLogprobs");
  expect_dtype(glp, DType::F32, "gradLogprobs");
  expect_shape(glp, {c.n}, "gradLogprobs");
  expect_same_device(c.logits, "logits", glp, "gradLogprobs");
  std::optional<Tensor> gh = optional_tensor_arg(info[3], "gradEntropy");
  if (gh) {
    expect_dtype(*gh, DType::F32, "gradEntropy");
    expect_shape(*gh, {c.n}, "gradEntropy");
    expect_same_device(c.logits, "logits", *gh, "gradEntropy");
  }
  const bool async = bool_arg(info[5], "async");

  Tensor grad = empty_tensor(c.logits.shape, c.logits.dtype, c.logits.device());
  auto status = std::make_shared<TokenLogprobsStatus>();
  auto exec = [c, glp, gh, grad, status] {
    const bool bf16 = c.logits.dtype == DType::BF16;
    const float* gh_ptr = gh ? gh->data<float>() : nullptr;
    if (c.logits.device() == Device::CPU) {
      *status = kernels::token_logprobs_backward_cpu(c.logits.storage->data(), bf16, c.tokens.data<int32_t>(),
                                                     glp.data<float>(), gh_ptr, c.n, c.v, c.inv_t,
                                                     grad.storage->data());
    } else {
#ifdef SR_WITH_CUDA
      *status = kernels::token_logprobs_backward_cuda(c.logits.storage->data(), bf16, c.tokens.data<int32_t>(),
                                                      glp.data<float>(), gh_ptr, c.n, c.v, c.inv_t,
                                                      grad.storage->data());
#endif
    }
    raise_bad_token(*status, c.v);
  };
  auto result = [grad, status](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("grad", JsTensor::wrap(env, grad));
    set_status(env, out, *status);
    return out;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("tokenLogprobs", make_function(env, "tokenLogprobs", token_logprobs));
  exports.Set("tokenLogprobsBackward", make_function(env, "tokenLogprobsBackward", token_logprobs_backward));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(token_logprobs, sr::binding::init);
