// JS bindings of the built-in model (lib/model/native.ts declares them):
//   modelCreate(config, seed, device 'cpu' | 'cuda', matmulPrecision 'tf32' | 'tf32x3') -> handle
//   modelDispose(handle)                             (frees activations and caches now; parameters when their
//                                                     Tensors are disposed too)
//   modelParameters(handle) -> [{ name, shape, value, grad, decay }]   (tensors share the model's storage,
//                                                     on the model's device)
//   modelSetParameter(handle, index, Float32Array)   modelZeroGrad(handle)
//   modelLogprobs(handle, batch, temperature, entropy, save, async) -> { logprobs, mask, entropy?, T }  (CPU tensors)
//   modelBackward(handle, gradLogprobs, gradEntropy | undefined, async)   (f32 [B, T] tensors on any device)
//   modelLogits(handle, batch, async) -> { logits, L }   (a CPU tensor)
//   modelGenerate(handle, batch, options, async) -> [{ tokens: Int32Array, logprobs: Float32Array, finish }]
// batch: { hasImage: Uint8Array, textLen: Int32Array, respLen: Int32Array, tokens: Int32Array, images: Float32Array }.
// One call at a time per model (a second one, while an async call runs, is an Error saying so).
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "model/model.h"

namespace sr::binding {
namespace {

struct Holder {
  std::shared_ptr<model::Model> model;
};

const napi_type_tag kModelTag = {0x5a1e0c7b3f2d4e61ull, 0x9b8a7c6d5e4f3a21ull};

Holder& holder(const Napi::Value& v) {
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(v.Env(), v, &kModelTag, &ok);
  if (!ok) throw_type("model handle expected");
  return *v.As<Napi::External<Holder>>().Data();
}

std::shared_ptr<model::Model> live_model(const Napi::Value& v) {
  Holder& h = holder(v);
  if (!h.model) throw_type("the model was disposed");
  return h.model;
}

// Marks the model busy for the lifetime of a job.
struct Lease {
  std::shared_ptr<model::Model> m;
  explicit Lease(std::shared_ptr<model::Model> model) : m(std::move(model)) {
    if (m->busy.exchange(true))
      throw_runtime("the model is busy with another call: await the previous logprobs/backward/generate first");
  }
  ~Lease() { m->busy = false; }
  Lease(const Lease&) = delete;
};

int int_field(const Napi::Object& o, const char* key) {
  const double v = number_arg(o.Get(key), key);
  // Range first: casting a double outside int's range is undefined behaviour.
  if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != std::floor(v)) throw_range(std::string(key) + " must be a 32-bit integer");
  return static_cast<int>(v);
}

template <class T, class A>
std::vector<T> typed(const Napi::Object& o, const char* key, napi_typedarray_type type) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw_type(std::string("batch.") + key + " has the wrong typed array type");
  A a = v.As<A>();
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

model::Batch parse_batch(const Napi::Value& v) {
  if (!v.IsObject()) throw_type("batch must be an object");
  Napi::Object o = v.As<Napi::Object>();
  model::Batch b;
  b.has_image = typed<uint8_t, Napi::Uint8Array>(o, "hasImage", napi_uint8_array);
  b.text_len = typed<int32_t, Napi::Int32Array>(o, "textLen", napi_int32_array);
  b.resp_len = typed<int32_t, Napi::Int32Array>(o, "respLen", napi_int32_array);
  b.tokens = typed<int32_t, Napi::Int32Array>(o, "tokens", napi_int32_array);
  b.images = typed<float, Napi::Float32Array>(o, "images", napi_float32_array);
  return b;
}

Napi::Value model_create(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw_type("config must be an object");
  Napi::Object c = info[0].As<Napi::Object>();
  model::Config cfg;
  cfg.d_model = int_field(c, "dModel");
  cfg.n_layers = int_field(c, "nLayers");
  cfg.n_heads = int_field(c, "nHeads");
  cfg.n_kv_heads = int_field(c, "nKvHeads");
  cfg.d_ff = int_field(c, "dFF");
  cfg.image_size = int_field(c, "imageSize");
  cfg.patch_size = int_field(c, "patchSize");
  cfg.max_seq_len = int_field(c, "maxSeqLen");
  cfg.vocab = int_field(c, "vocabSize");
  cfg.rope_theta = number_arg(c.Get("ropeTheta"), "ropeTheta");
  cfg.norm_eps = number_arg(c.Get("normEps"), "normEps");
  const std::string image_pos = string_arg(c.Get("imagePositions"), "imagePositions");
  using Positions = model::Config::ImagePositions;
  if (image_pos == "first") cfg.image_positions = Positions::kFirst;
  else if (image_pos == "before-response") cfg.image_positions = Positions::kBeforeResponse;
  else if (image_pos == "shared") cfg.image_positions = Positions::kShared;
  else throw_range("imagePositions must be 'first', 'before-response' or 'shared', got '" + image_pos + "'");
  const double seed = number_arg(info[1], "seed");
  const std::string dev = string_arg(info[2], "device");
  if (dev != "cpu" && dev != "cuda") throw_type("device must be 'cpu' or 'cuda', got '" + dev + "'");
  const std::string prec = string_arg(info[3], "matmulPrecision");
  if (prec != "tf32" && prec != "tf32x3") throw_type("matmulPrecision must be 'tf32' or 'tf32x3', got '" + prec + "'");
  auto* h = new Holder{std::make_shared<model::Model>(
      cfg, static_cast<uint64_t>(seed), dev == "cuda" ? Device::CUDA : Device::CPU,
      prec == "tf32x3" ? model::MatmulPrecision::Tf32x3 : model::MatmulPrecision::Tf32)};
  Napi::External<Holder> ext = Napi::External<Holder>::New(info.Env(), h, [](Napi::Env, Holder* p) { delete p; });
  napi_type_tag_object(info.Env(), ext, &kModelTag);
  return ext;
}

Napi::Value model_dispose(const Napi::CallbackInfo& info) {
  Holder& h = holder(info[0]);
  if (h.model && h.model->busy) throw_runtime("the model is busy: await the running call before dispose()");
  h.model.reset();  // storage lives on while parameter Tensors handed out still reference it
  return info.Env().Undefined();
}

Napi::Value model_parameters(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& p : m->params()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", p.name);
    Napi::Array shape = Napi::Array::New(env);
    for (size_t j = 0; j < p.value.shape.size(); ++j) shape.Set(static_cast<uint32_t>(j), static_cast<double>(p.value.shape[j]));
    o.Set("shape", shape);
    o.Set("value", JsTensor::wrap(env, p.value));
    o.Set("grad", JsTensor::wrap(env, p.grad));
    o.Set("decay", p.decay);
    out.Set(i++, o);
  }
  return out;
}

Napi::Value model_set_parameter(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  Lease lease(m);
  const double idx = number_arg(info[1], "index");
  if (idx < 0 || idx >= static_cast<double>(m->params().size())) throw_range("parameter index out of range");
  auto& p = m->params()[static_cast<size_t>(idx)];
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw_type(p.name + ": data must be a Float32Array");
  Napi::Float32Array a = info[2].As<Napi::Float32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != p.value.numel())
    throw_range(p.name + ": expected " + std::to_string(p.value.numel()) + " values, got " + std::to_string(a.ElementLength()));
  copy_from_host(p.value, a.Data(), p.value.bytes());
  return info.Env().Undefined();
}

Napi::Value model_zero_grad(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  Lease lease(m);
  m->zero_grad();
  return info.Env().Undefined();
}

Napi::Value model_logprobs(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  model::Batch batch = parse_batch(info[1]);
  const double temperature = number_arg(info[2], "temperature");
  if (!(temperature > 0)) throw_range("temperature must be > 0");
  const bool entropy = bool_arg(info[3], "entropy");
  const bool save = bool_arg(info[4], "save");
  const bool async = bool_arg(info[5], "async");
  model::validate_batch(m->config(), batch, true);
  auto lease = std::make_shared<Lease>(m);
  auto res = std::make_shared<model::ForwardResult>();
  auto exec = [m, lease, res, batch = std::move(batch), temperature, entropy, save] {
    *res = m->forward(batch, static_cast<float>(temperature), entropy, save);
  };
  auto result = [res, lease](Napi::Env env) -> Napi::Value {
    Napi::Object o = Napi::Object::New(env);
    Tensor lp = empty_tensor({res->B, res->T}, DType::F32, Device::CPU);
    Tensor mk = empty_tensor({res->B, res->T}, DType::U8, Device::CPU);
    if (lp.bytes()) std::memcpy(lp.data<float>(), res->logprobs.data(), lp.bytes());
    if (mk.bytes()) std::memcpy(mk.data<uint8_t>(), res->mask.data(), mk.bytes());
    o.Set("logprobs", JsTensor::wrap(env, lp));
    o.Set("mask", JsTensor::wrap(env, mk));
    if (res->has_entropy) {
      Tensor en = empty_tensor({res->B, res->T}, DType::F32, Device::CPU);
      std::memcpy(en.data<float>(), res->entropy.data(), en.bytes());
      o.Set("entropy", JsTensor::wrap(env, en));
    }
    o.Set("T", static_cast<double>(res->T));
    return o;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

// A [B, T] gradient as host memory: the tensor itself on the CPU, a copy from a CUDA tensor.
const float* host_floats(const Tensor& t, std::vector<float>* tmp) {
  if (t.device() == Device::CPU) return t.data<float>();
  tmp->resize(static_cast<size_t>(t.numel()));
  copy_to_host(t, tmp->data(), t.bytes());
  return tmp->data();
}

Napi::Value model_backward(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  const std::string shape = "[" + std::to_string(m->saved_B()) + ", " + std::to_string(m->saved_T()) + "]";
  auto check = [&](const Tensor& t, const char* name) {
    expect_dtype(t, DType::F32, name);
    expect_rank(t, 2, name);
    if (m->has_saved() && (t.shape[0] != m->saved_B() || t.shape[1] != m->saved_T()))
      throw_range(std::string(name) + " must have shape " + shape + " like the last logprobs result, got " +
                  t.shape_string());
  };
  const Tensor& g = tensor_arg(info[1], "gradLogprobs");
  check(g, "gradLogprobs");
  std::optional<Tensor> gh = optional_tensor_arg(info[2], "gradEntropy");
  if (gh) check(*gh, "gradEntropy");
  const bool async = bool_arg(info[3], "async");
  if (!m->has_saved())
    throw_runtime("backward() needs a forward pass first: call logprobs(batch) (with grad enabled)");
  auto lease = std::make_shared<Lease>(m);
  auto exec = [m, lease, g, gh] {
    std::vector<float> tg, th;
    const float* gp = host_floats(g, &tg);
    const float* hp = gh ? host_floats(*gh, &th) : nullptr;
    m->backward(gp, hp, g.shape[0], g.shape[1]);
  };
  auto result = [lease](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return run_job(info.Env(), make_job(exec, result), async);
}

Napi::Value model_logits(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  model::Batch batch = parse_batch(info[1]);
  const bool async = bool_arg(info[2], "async");
  model::validate_batch(m->config(), batch, false);
  auto lease = std::make_shared<Lease>(m);
  auto out = std::make_shared<std::vector<float>>();
  auto L = std::make_shared<int64_t>(0);
  const int64_t B = static_cast<int64_t>(batch.text_len.size());
  auto exec = [m, lease, out, L, batch = std::move(batch)] { *out = m->logits(batch, L.get()); };
  const int64_t V = m->config().vocab;
  auto result = [out, L, B, V, lease](Napi::Env env) -> Napi::Value {
    Tensor t = empty_tensor({B, *L, V}, DType::F32, Device::CPU);
    if (t.bytes()) std::memcpy(t.data<float>(), out->data(), t.bytes());
    Napi::Object o = Napi::Object::New(env);
    o.Set("logits", JsTensor::wrap(env, t));
    o.Set("L", static_cast<double>(*L));
    return o;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

Napi::Value model_generate(const Napi::CallbackInfo& info) {
  auto m = live_model(info[0]);
  model::Batch batch = parse_batch(info[1]);
  if (!info[2].IsObject()) throw_type("options must be an object");
  Napi::Object o = info[2].As<Napi::Object>();
  model::GenerateOptions opt;
  opt.n = int_field(o, "n");
  opt.max_new = int_field(o, "maxNewTokens");
  opt.temperature = number_arg(o.Get("temperature"), "temperature");
  opt.top_p = number_arg(o.Get("topP"), "topP");
  opt.seed = static_cast<uint64_t>(number_arg(o.Get("seed"), "seed"));
  opt.use_cache = bool_arg(o.Get("useCache"), "useCache");
  if (opt.n < 1 || opt.max_new < 0 || opt.temperature < 0 || !(opt.top_p > 0 && opt.top_p <= 1))
    throw_range("generate options out of range");
  Napi::Value stops = o.Get("stops");
  if (!stops.IsArray()) throw_type("options.stops must be an array");
  Napi::Array sa = stops.As<Napi::Array>();
  for (uint32_t i = 0; i < sa.Length(); ++i) {
    Napi::Value s = sa.Get(i);
    if (!s.IsTypedArray() || s.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_type("options.stops entries must be Uint8Arrays (UTF-8 bytes)");
    Napi::Uint8Array a = s.As<Napi::Uint8Array>();
    if (a.ElementLength() == 0) throw_range("options.stops entries must not be empty");
    opt.stops.emplace_back(reinterpret_cast<const char*>(a.Data()), a.ElementLength());
  }
  if (!opt.stops.empty()) {
    Napi::Value tb = o.Get("tokenBytes"), to = o.Get("tokenOffsets");
    if (!tb.IsTypedArray() || tb.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_type("options.tokenBytes must be a Uint8Array when there are stops");
    if (!to.IsTypedArray() || to.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw_type("options.tokenOffsets must be an Int32Array when there are stops");
    Napi::Uint8Array b = tb.As<Napi::Uint8Array>();
    Napi::Int32Array off = to.As<Napi::Int32Array>();
    const int64_t V = m->config().vocab;
    if (static_cast<int64_t>(off.ElementLength()) != V + 1)
      throw_range("options.tokenOffsets must have vocabSize + 1 = " + std::to_string(V + 1) + " entries");
    const int32_t* op = off.Data();
    for (int64_t t = 0; t < V; ++t)
      if (op[t + 1] < op[t]) throw_range("options.tokenOffsets must not decrease");
    if (op[0] != 0 || static_cast<size_t>(op[V]) != b.ElementLength())
      throw_range("options.tokenOffsets must run from 0 to tokenBytes.length");
    opt.token_bytes.assign(b.Data(), b.Data() + b.ElementLength());
    opt.token_offsets.assign(off.Data(), off.Data() + off.ElementLength());
  }
  const bool async = bool_arg(info[3], "async");
  model::validate_batch(m->config(), batch, false);
  auto lease = std::make_shared<Lease>(m);
  auto out = std::make_shared<std::vector<model::Sample>>();
  auto exec = [m, lease, out, batch = std::move(batch), opt] { *out = m->generate(batch, opt); };
  auto result = [out, lease](Napi::Env env) -> Napi::Value {
    Napi::Array arr = Napi::Array::New(env);
    static const char* kFinish[] = {"eos", "stop", "length"};
    for (size_t i = 0; i < out->size(); ++i) {
      const auto& s = (*out)[i];
      Napi::Object r = Napi::Object::New(env);
      Napi::Int32Array t = Napi::Int32Array::New(env, s.tokens.size());
      std::copy(s.tokens.begin(), s.tokens.end(), t.Data());
      Napi::Float32Array l = Napi::Float32Array::New(env, s.logprobs.size());
      std::copy(s.logprobs.begin(), s.logprobs.end(), l.Data());
      r.Set("tokens", t);
      r.Set("logprobs", l);
      r.Set("finish", kFinish[static_cast<int>(s.finish)]);
      arr.Set(static_cast<uint32_t>(i), r);
    }
    return arr;
  };
  return run_job(info.Env(), make_job(exec, result), async);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("modelCreate", make_function(env, "modelCreate", model_create));
  exports.Set("modelDispose", make_function(env, "modelDispose", model_dispose));
  exports.Set("modelParameters", make_function(env, "modelParameters", model_parameters));
  exports.Set("modelSetParameter", make_function(env, "modelSetParameter", model_set_parameter));
  exports.Set("modelZeroGrad", make_function(env, "modelZeroGrad", model_zero_grad));
  exports.Set("modelLogprobs", make_function(env, "modelLogprobs", model_logprobs));
  exports.Set("modelBackward", make_function(env, "modelBackward", model_backward));
  exports.Set("modelLogits", make_function(env, "modelLogits", model_logits));
  exports.Set("modelGenerate", make_function(env, "modelGenerate", model_generate));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(model, sr::binding::init);
