#include "binding/js_tensor.h"

#include <cmath>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "core/error.h"

namespace sr::binding {

namespace {

struct InstanceData {
  Napi::FunctionReference constructor;
};

std::vector<int64_t> parse_shape(const Napi::Value& v) {
  if (!v.IsArray()) throw_type("shape must be an array of non-negative integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  int64_t numel = 1;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1.0;
    if (!(x >= 0) || x != std::floor(x) || x > 9007199254740991.0)
      throw_type("shape[" + std::to_string(i) + "] must be a non-negative integer");
    shape.push_back(static_cast<int64_t>(x));
    numel *= shape.back();
    if (numel > (int64_t(1) << 40)) throw_range("shape has too many elements (over 2^40)");
  }
  return shape;
}

}  // namespace

void JsTensor::init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeTensor",
                                    {
                                        StaticMethod<&JsTensor::from_typed_array>("fromTypedArray"),
                                        InstanceMethod<&JsTensor::dispose>("dispose"),
                                        InstanceMethod<&JsTensor::is_disposed>("isDisposed"),
                                        InstanceMethod<&JsTensor::copy_to_typed_array>("copyTo"),
                                        InstanceMethod<&JsTensor::to_device>("toDevice"),
                                        InstanceMethod<&JsTensor::byte_length>("byteLength"),
                                    });
  auto* data = new InstanceData();
  data->constructor = Napi::Persistent(ctor);
  env.SetInstanceData<InstanceData>(data);
  exports.Set("NativeTensor", ctor);
}

JsTensor::JsTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsTensor>(info) {}

JsTensor::~JsTensor() {
  // Finalizer path: the user never called dispose(). Storage frees itself when
  // the last reference (this one, or a running job's) goes.
  if (accounted_bytes_) Napi::MemoryManagement::AdjustExternalMemory(Env(), -accounted_bytes_);
}

void JsTensor::release(Napi::Env env) {
  if (accounted_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -accounted_bytes_);
    accounted_bytes_ = 0;
  }
  tensor_.reset();
}

Napi::Object JsTensor::wrap(Napi::Env env, Tensor t) {
  auto* data = env.GetInstanceData<InstanceData>();
  Napi::Object obj = data->constructor.New({});
  JsTensor* self = Napi::ObjectWrap<JsTensor>::Unwrap(obj);
  self->accounted_bytes_ = static_cast<int64_t>(t.bytes());
  self->tensor_ = std::move(t);
  if (self->accounted_bytes_) Napi::MemoryManagement::AdjustExternalMemory(env, self->accounted_bytes_);
  return obj;
}

bool JsTensor::is_tensor(const Napi::Value& v) {
  if (!v.IsObject()) return false;
  auto* data = v.Env().GetInstanceData<InstanceData>();
  return v.As<Napi::Object>().InstanceOf(data->constructor.Value());
}

const Tensor& JsTensor::unwrap(const Napi::Value& v, const char* arg) {
  if (!is_tensor(v)) throw_type(std::string(arg) + " must be a Tensor");
  JsTensor* self = Napi::ObjectWrap<JsTensor>::Unwrap(v.As<Napi::Object>());
  if (!self->tensor_) throw_type(std::string(arg) + " is a disposed Tensor");
  return *self->tensor_;
}

Napi::Value JsTensor::from_typed_array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    static constexpr Choice<DType> kDTypes[] = {
        {"f32", DType::F32}, {"bf16", DType::BF16}, {"i32", DType::I32}, {"u8", DType::U8}};
    const Options o(info);
    if (!o.get("data").IsTypedArray()) throw_type("data must be a typed array");
    Napi::TypedArray src = o.get("data").As<Napi::TypedArray>();
    std::vector<int64_t> shape = parse_shape(o.get("shape"));
    const DType dtype = o.choice("dtype", kDTypes);
    const Device device = o.device("device");
    Tensor probe;
    probe.shape = shape;
    const int64_t numel = probe.numel();
    if (static_cast<int64_t>(src.ElementLength()) != numel)
      throw_range("data has " + std::to_string(src.ElementLength()) + " elements but shape " + probe.shape_string() +
                  " needs " + std::to_string(numel));
    const napi_typedarray_type kind = src.TypedArrayType();
    const uint8_t* bytes = static_cast<const uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    Tensor host = empty_tensor(shape, dtype, Device::CPU);
    bool ok = true;
    switch (dtype) {
      case DType::F32: ok = kind == napi_float32_array; break;
      case DType::I32: ok = kind == napi_int32_array; break;
      case DType::U8: ok = kind == napi_uint8_array || kind == napi_uint8_clamped_array; break;
      case DType::BF16: ok = kind == napi_float32_array || kind == napi_uint16_array; break;
    }
    if (!ok) throw_type(std::string("data's typed array type does not match dtype ") + dtype_name(dtype));
    if (dtype == DType::BF16 && kind == napi_float32_array) {
      const float* f = reinterpret_cast<const float*>(bytes);
      uint16_t* out = host.data<uint16_t>();
      for (int64_t i = 0; i < numel; ++i) out[i] = f32_to_bf16(f[i]);
    } else if (host.bytes()) {
      std::memcpy(host.storage->data(), bytes, host.bytes());
    }
    Tensor t = device == Device::CPU ? std::move(host) : copy_to_device(host, device);
    return wrap(env, std::move(t));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(env);
  }
}

Napi::Value JsTensor::dispose(const Napi::CallbackInfo& info) {
  release(info.Env());
  return info.Env().Undefined();
}

Napi::Value JsTensor::is_disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.has_value());
}

Napi::Value JsTensor::byte_length(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), tensor_ ? static_cast<double>(tensor_->bytes()) : 0.0);
}

Napi::Value JsTensor::copy_to_typed_array(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (!tensor_) throw_type("tensor is disposed");
    const Tensor& t = *tensor_;
    const Options o(info);
    if (!o.get("target").IsTypedArray()) throw_type("target must be a typed array");
    Napi::TypedArray dst = o.get("target").As<Napi::TypedArray>();
    const napi_typedarray_type kind = dst.TypedArrayType();
    bool ok = (t.dtype == DType::F32 || t.dtype == DType::BF16) ? kind == napi_float32_array
              : t.dtype == DType::I32                           ? kind == napi_int32_array
                                                                : kind == napi_uint8_array;
    if (!ok || static_cast<int64_t>(dst.ElementLength()) != t.numel())
      throw_type("target typed array does not match the tensor's dtype or size");
    uint8_t* out = static_cast<uint8_t*>(dst.ArrayBuffer().Data()) + dst.ByteOffset();
    if (t.dtype == DType::BF16) {
      std::vector<uint16_t> raw(static_cast<size_t>(t.numel()));
      copy_to_host(t, raw.data(), t.bytes());
      float* f = reinterpret_cast<float*>(out);
      for (size_t i = 0; i < raw.size(); ++i) f[i] = bf16_to_f32(raw[i]);
    } else {
      copy_to_host(t, out, t.bytes());
    }
    return env.Undefined();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(env);
  }
}

Napi::Value JsTensor::to_device(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (!tensor_) throw_type("tensor is disposed");
    const Device device = Options(info).device("device");
    return wrap(env, copy_to_device(*tensor_, device));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    rethrow_as_js(env);
  }
}

}  // namespace sr::binding
