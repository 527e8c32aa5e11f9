#include "binding/args.h"

#include <cmath>

#include "binding/js_tensor.h"
#include "cuda/runtime.h"

namespace sr::binding {

namespace {

// JavaScript's typeof, for "got <type>" in TypeErrors.
const char* js_typeof(const Napi::Value& v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    case napi_bigint: return "bigint";
    default: return "object";  // null, objects, externals
  }
}

void require_given(const Napi::Value& v, const std::string& name) {
  if (v.IsUndefined()) throw_type(name + " is required");
}

}  // namespace

void check_range(double x, const Range& r, const std::string& name) {
  if (!r.contains(x)) throw_range(name + " must be " + r.text() + ", got " + js_number(x));
}

// ---- Readers of one value ----

const Tensor& tensor_arg(const Napi::Value& v, const char* name) {
  require_given(v, name);
  return JsTensor::unwrap(v, name);
}

std::optional<Tensor> optional_tensor_arg(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return JsTensor::unwrap(v, name);
}

double number_arg(const Napi::Value& v, const char* name) {
  require_given(v, name);
  if (!v.IsNumber()) throw_type(std::string(name) + " must be a number, got " + js_typeof(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_range(std::string(name) + " must be finite, got " + js_number(d));
  return d;
}

bool bool_arg(const Napi::Value& v, const char* name) {
  require_given(v, name);
  if (!v.IsBoolean()) throw_type(std::string(name) + " must be a boolean, got " + js_typeof(v));
  return v.As<Napi::Boolean>().Value();
}

std::string string_arg(const Napi::Value& v, const char* name) {
  require_given(v, name);
  if (!v.IsString()) throw_type(std::string(name) + " must be a string, got " + js_typeof(v));
  return v.As<Napi::String>().Utf8Value();
}

// ---- Options ----

Options::Options(const Napi::CallbackInfo& info, const char* prefix) : prefix_(prefix) {
  if (info.Length() != 1 || !info[0].IsObject() || info[0].IsArray() || JsTensor::is_tensor(info[0]))
    throw_type("expects one object of named inputs (the binding calling convention), got " +
               (info.Length() == 1 ? std::string(js_typeof(info[0])) : std::to_string(info.Length()) + " arguments"));
  obj_ = info[0].As<Napi::Object>();
}

Options Options::object(const char* key, const char* name) const {
  const std::string n = name_of(key, name);
  Napi::Value v = get(key);
  require_given(v, n);
  if (!v.IsObject()) throw_type(n + " must be an object, got " + js_typeof(v));
  return Options(v.As<Napi::Object>(), n + ".");
}

bool Options::has(const char* key) const {
  Napi::Value v = get(key);
  return !v.IsUndefined() && !v.IsNull();
}

const Tensor& Options::tensor(const char* key, const char* name) const {
  return tensor_arg(get(key), name_of(key, name).c_str());
}

std::optional<Tensor> Options::optional_tensor(const char* key, const char* name) const {
  return optional_tensor_arg(get(key), name_of(key, name).c_str());
}

double Options::number(const char* key, const char* name) const {
  return number_arg(get(key), name_of(key, name).c_str());
}

double Options::number(const Limit& limit) const {
  const double x = number(limit.key, limit.name);
  check_range(x, limit.range, limit.name);
  return x;
}

std::optional<double> Options::optional_number(const Limit& limit) const {
  if (!has(limit.key)) return std::nullopt;
  return number(limit);
}

int64_t Options::integer(const Limit& limit) const { return static_cast<int64_t>(number(limit)); }

bool Options::boolean(const char* key, const char* name) const {
  return bool_arg(get(key), name_of(key, name).c_str());
}

std::string Options::string(const char* key, const char* name) const {
  return string_arg(get(key), name_of(key, name).c_str());
}

Device Options::device(const char* key, const char* name) const {
  static constexpr Choice<Device> kDevices[] = {{"cpu", Device::CPU}, {"cuda", Device::CUDA}};
  const Device d = choice(key, kDevices, name);
  if (d == Device::CUDA && !cuda::available())
    throw_runtime(name_of(key, name) + " 'cuda' was requested but " + cuda::query_device().reason);
  return d;
}

Napi::TypedArray Options::typed_array(const char* key, napi_typedarray_type type, const char* what,
                                      const char* name) const {
  Napi::Value v = get(key);
  const std::string n = name_of(key, name);
  require_given(v, n);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw_type(n + " must be " + what + ", got " + (v.IsTypedArray() ? "another typed array" : js_typeof(v)));
  return v.As<Napi::TypedArray>();
}

bool Options::async() const { return has("async") && boolean("async"); }

void Options::bad_choice(const char* key, const std::string& name, const std::string& allowed) const {
  Napi::Value v = get(key);
  require_given(v, name);
  const std::string got = v.IsString()   ? "\"" + v.As<Napi::String>().Utf8Value() + "\""
                          : v.IsNumber() ? js_number(v.As<Napi::Number>().DoubleValue())
                                         : js_typeof(v);
  throw_type(name + " must be one of " + allowed + ", got " + got);
}

void export_limits(Napi::Env env, Napi::Object exports, const char* fn, std::initializer_list<Limit> limits) {
  if (!exports.Has("limits")) exports.Set("limits", Napi::Object::New(env));
  Napi::Object all = exports.Get("limits").As<Napi::Object>();
  Napi::Object mine = Napi::Object::New(env);
  for (const Limit& l : limits) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", l.name);
    o.Set("min", l.range.lo);
    o.Set("max", l.range.hi);
    o.Set("minOpen", l.range.lo_open);
    o.Set("maxOpen", l.range.hi_open);
    o.Set("integer", l.range.integer);
    o.Set("text", l.range.text());
    mine.Set(l.key, o);
  }
  all.Set(fn, mine);
}

// ---- Tensor checks ----

void expect_dtype(const Tensor& t, DType dtype, const char* name) {
  if (t.dtype != dtype)
    throw_type(std::string(name) + " must have dtype " + dtype_name(dtype) + ", got " + dtype_name(t.dtype));
}

void expect_shape(const Tensor& t, const std::vector<int64_t>& shape, const char* name) {
  if (t.shape != shape) {
    Tensor want;
    want.shape = shape;
    throw_range(std::string(name) + " must have shape " + want.shape_string() + ", got " + t.shape_string());
  }
}

void expect_rank(const Tensor& t, size_t rank, const char* name, const char* dims) {
  if (t.shape.size() == rank) return;
  if (dims) throw_range(std::string(name) + " must have shape " + dims + ", got " + t.shape_string());
  throw_range(std::string(name) + " must have " + std::to_string(rank) + " dimensions, got shape " + t.shape_string());
}

void expect_same_device(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  if (a.device() != b.device())
    throw_type(std::string(b_name) + " is on " + device_name(b.device()) + " but " + a_name + " is on " +
               device_name(a.device()) + ": move them to one device with tensor.to(device)");
}

}  // namespace sr::binding
