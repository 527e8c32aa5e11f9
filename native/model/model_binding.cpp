// JS bindings of the built-in model (lib/model/native.ts declares them), each taking one options object:
//   modelCreate({ config, seed, device: 'cpu' | 'cuda', matmulPrecision: 'tf32' | 'tf32x3' }) -> handle
//   modelDispose({ model })                          (frees activations and caches now; parameters when their
//                                                     Tensors are disposed too)
//   modelParameters({ model }) -> [{ name, shape, value, grad, decay }]   (tensors share the model's storage,
//                                                     on the model's device)
//   modelSetParameter({ model, index, data: Float32Array })   modelZeroGrad({ model })
//   modelLogprobs({ model, batch, temperature, entropy, save, async? }) -> { logprobs, mask, entropy?, T }
//                                                     (CPU tensors)
//   modelBackward({ model, gradLogprobs, gradEntropy?, async? })   (f32 [B, T] tensors on any device)
//   modelLogits({ model, batch, async? }) -> { logits, L }   (a CPU tensor)
//   modelGenerate({ model, batch, n, maxNewTokens, temperature, topP, seed, useCache, stops, tokenBytes?,
//                   tokenOffsets?, async? }) -> [{ tokens: Int32Array, logprobs: Float32Array, finish }]
// batch: { hasImage: Uint8Array, textLen: Int32Array, respLen: Int32Array, tokens: Int32Array, images: Float32Array }.
// The TypeScript layer (lib/model) validates these first; the checks here keep a raw call from crashing.
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

Holder& holder(const Options& o) {
  Napi::Value v = o.get("model");
  bool ok = false;
  if (v.IsExternal()) napi_check_object_type_tag(v.Env(), v, &kModelTag, &ok);
  if (!ok) throw_type("model handle expected");
  return *v.As<Napi::External<Holder>>().Data();
}

std::shared_ptr<model::Model> live_model(const Options& o) {
  Holder& h = holder(o);
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

int int_field(const Options& o, const char* key) {
  const double v = o.number(key);
  // Range first: casting a double outside int's range is undefined behaviour.
  if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != std::floor(v))
    throw_range(o.name_of(key, nullptr) + " must be a 32-bit integer");
  return static_cast<int>(v);
}

template <class T, class A>
std::vector<T> typed(const Options& o, const char* key, napi_typedarray_type type, const char* what) {
  A a = o.typed_array(key, type, what).As<A>();
  return std::vector<T>(a.Data(), a.Data() + a.ElementLength());
}

model::Batch parse_batch(const Options& o) {
  const Options batch = o.object("batch");
  model::Batch b;
  b.has_image = typed<uint8_t, Napi::Uint8Array>(batch, "hasImage", napi_uint8_array, "a Uint8Array");
  b.text_len = typed<int32_t, Napi::Int32Array>(batch, "textLen", napi_int32_array, "an Int32Array");
  b.resp_len = typed<int32_t, Napi::Int32Array>(batch, "respLen", napi_int32_array, "an Int32Array");
  b.tokens = typed<int32_t, Napi::Int32Array>(batch, "tokens", napi_int32_array, "an Int32Array");
  b.images = typed<float, Napi::Float32Array>(batch, "images", napi_float32_array, "a Float32Array");
  return b;
}

constexpr Choice<model::MatmulPrecision> kPrecisions[] = {{"tf32", model::MatmulPrecision::Tf32},
                                                          {"tf32x3", model::MatmulPrecision::Tf32x3}};

Napi::Value model_create(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Options c = o.object("config");
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
  cfg.rope_theta = c.number("ropeTheta");
  cfg.norm_eps = c.number("normEps");
  using Positions = model::Config::ImagePositions;
  static constexpr Choice<Positions> kPositions[] = {
      {"first", Positions::kFirst}, {"before-response", Positions::kBeforeResponse}, {"shared", Positions::kShared}};
  cfg.image_positions = c.choice("imagePositions", kPositions);
  const double seed = o.number("seed");
  const Device dev = o.device("device");
  const model::MatmulPrecision prec = o.choice("matmulPrecision", kPrecisions);
  auto* h = new Holder{std::make_shared<model::Model>(cfg, static_cast<uint64_t>(seed), dev, prec)};
  Napi::External<Holder> ext = Napi::External<Holder>::New(info.Env(), h, [](Napi::Env, Holder* p) { delete p; });
  napi_type_tag_object(info.Env(), ext, &kModelTag);
  return ext;
}

Napi::Value model_dispose(const Napi::CallbackInfo& info) {
  Holder& h = holder(Options(info));
  if (h.model && h.model->busy) throw_runtime("the model is busy: await the running call before dispose()");
  h.model.reset();  // storage lives on while parameter Tensors handed out still reference it
  return info.Env().Undefined();
}

Napi::Value model_parameters(const Napi::CallbackInfo& info) {
  auto m = live_model(Options(info));
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& p : m->params()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", p.name);
    Napi::Array shape = Napi::Array::New(env);
    for (size_t j = 0; j < p.value.shape.size(); ++j)
      shape.Set(static_cast<uint32_t>(j), static_cast<double>(p.value.shape[j]));
    o.Set("shape", shape);
    o.Set("value", JsTensor::wrap(env, p.value));
    o.Set("grad", JsTensor::wrap(env, p.grad));
    o.Set("decay", p.decay);
    out.Set(i++, o);
  }
  return out;
}

Napi::Value model_set_parameter(const Napi::CallbackInfo& info) {
  const Options o(info);
  auto m = live_model(o);
  Lease lease(m);
  const double idx = o.number("index");
  if (idx < 0 || idx >= static_cast<double>(m->params().size())) throw_range("parameter index out of range");
  auto& p = m->params()[static_cast<size_t>(idx)];
  Napi::Float32Array a =
      o.typed_array("data", napi_float32_array, "a Float32Array", (p.name + ": data").c_str()).As<Napi::Float32Array>();
  if (static_cast<int64_t>(a.ElementLength()) != p.value.numel())
    throw_range(p.name + ": expected " + std::to_string(p.value.numel()) + " values, got " +
                std::to_string(a.ElementLength()));
  copy_from_host(p.value, a.Data(), p.value.bytes());
  return info.Env().Undefined();
}

Napi::Value model_zero_grad(const Napi::CallbackInfo& info) {
  auto m = live_model(Options(info));
  Lease lease(m);
  m->zero_grad();
  return info.Env().Undefined();
}

Napi::Value model_logprobs(const Napi::CallbackInfo& info) {
  const Options o(info);
  auto m = live_model(o);
  model::Batch batch = parse_batch(o);
  const double temperature = o.number("temperature");
  if (!(temperature > 0)) throw_range("temperature must be > 0");
  const bool entropy = o.boolean("entropy");
  const bool save = o.boolean("save");
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
  return run_job(info.Env(), make_job(exec, result), o.async());
}

// A [B, T] gradient as host memory: the tensor itself on the CPU, a copy from a CUDA tensor.
const float* host_floats(const Tensor& t, std::vector<float>* tmp) {
  if (t.device() == Device::CPU) return t.data<float>();
  tmp->resize(static_cast<size_t>(t.numel()));
  copy_to_host(t, tmp->data(), t.bytes());
  return tmp->data();
}

Napi::Value model_backward(const Napi::CallbackInfo& info) {
  const Options o(info);
  auto m = live_model(o);
  const std::string shape = "[" + std::to_string(m->saved_B()) + ", " + std::to_string(m->saved_T()) + "]";
  auto check = [&](const Tensor& t, const char* name) {
    expect_dtype(t, DType::F32, name);
    expect_rank(t, 2, name);
    if (m->has_saved() && (t.shape[0] != m->saved_B() || t.shape[1] != m->saved_T()))
      throw_range(std::string(name) + " must have shape " + shape + " like the last logprobs result, got " +
                  t.shape_string());
  };
  const Tensor& g = o.tensor("gradLogprobs");
  check(g, "gradLogprobs");
  std::optional<Tensor> gh = o.optional_tensor("gradEntropy");
  if (gh) check(*gh, "gradEntropy");
  if (!m->has_saved()) throw_runtime("backward() needs a forward pass first: call logprobs(batch) (with grad enabled)");
  auto lease = std::make_shared<Lease>(m);
  auto exec = [m, lease, g, gh] {
    std::vector<float> tg, th;
    const float* gp = host_floats(g, &tg);
    const float* hp = gh ? host_floats(*gh, &th) : nullptr;
    m->backward(gp, hp, g.shape[0], g.shape[1]);
  };
  auto result = [lease](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

Napi::Value model_logits(const Napi::CallbackInfo& info) {
  const Options o(info);
  auto m = live_model(o);
  model::Batch batch = parse_batch(o);
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
  return run_job(info.Env(), make_job(exec, result), o.async());
}

Napi::Value model_generate(const Napi::CallbackInfo& info) {
  const Options o(info);
  auto m = live_model(o);
  model::Batch batch = parse_batch(o);
  model::GenerateOptions opt;
  opt.n = int_field(o, "n");
  opt.max_new = int_field(o, "maxNewTokens");
  opt.temperature = o.number("temperature");
  opt.top_p = o.number("topP");
  opt.seed = static_cast<uint64_t>(o.number("seed"));
  opt.use_cache = o.boolean("useCache");
  if (opt.n < 1 || opt.max_new < 0 || opt.temperature < 0 || !(opt.top_p > 0 && opt.top_p <= 1))
    throw_range("generate options out of range");
  Napi::Value stops = o.get("stops");
  if (!stops.IsArray()) throw_type("stops must be an array");
  Napi::Array sa = stops.As<Napi::Array>();
  for (uint32_t i = 0; i < sa.Length(); ++i) {
    Napi::Value s = sa.Get(i);
    if (!s.IsTypedArray() || s.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw_type("stops entries must be Uint8Arrays (UTF-8 bytes)");
    Napi::Uint8Array a = s.As<Napi::Uint8Array>();
    if (a.ElementLength() == 0) throw_range("stops entries must not be empty");
    opt.stops.emplace_back(reinterpret_cast<const char*>(a.Data()), a.ElementLength());
  }
  if (!opt.stops.empty()) {
    // Read only when there are stops.
    Napi::Uint8Array b = o.typed_array("tokenBytes", napi_uint8_array, "a Uint8Array").As<Napi::Uint8Array>();
    Napi::Int32Array off = o.typed_array("tokenOffsets", napi_int32_array, "an Int32Array").As<Napi::Int32Array>();
    const int64_t V = m->config().vocab;
    if (static_cast<int64_t>(off.ElementLength()) != V + 1)
      throw_range("tokenOffsets must have vocabSize + 1 = " + std::to_string(V + 1) + " entries");
    const int32_t* op = off.Data();
    for (int64_t t = 0; t < V; ++t)
      if (op[t + 1] < op[t]) throw_range("tokenOffsets must not decrease");
    if (op[0] != 0 || static_cast<size_t>(op[V]) != b.ElementLength())
      throw_range("tokenOffsets must run from 0 to tokenBytes.length");
    opt.token_bytes.assign(b.Data(), b.Data() + b.ElementLength());
    opt.token_offsets.assign(off.Data(), off.Data() + off.ElementLength());
  }
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
  return run_job(info.Env(), make_job(exec, result), o.async());
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
