#include "binding/args.h"

#include <cmath>

#include "binding/js_tensor.h"

namespace sr::binding {

const Tensor& tensor_arg(const Napi::Value& v, const char* name) { return JsTensor::unwrap(v, name); }

std::optional<Tensor> optional_tensor_arg(const Napi::Value& v, const char* name) {
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return JsTensor::unwrap(v, name);
}

double number_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw_type(std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw_range(std::string(name) + " must be finite, got " + std::to_string(d));
  return d;
}

bool bool_arg(const Napi::Value& v, const char* name) {
  if (!v.IsBoolean()) throw_type(std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string string_arg(const Napi::Value& v, const char* name) {
  if (!v.IsString()) throw_type(std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

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

void expect_rank(const Tensor& t, size_t rank, const char* name) {
  if (t.shape.size() != rank)
    throw_range(std::string(name) + " must have " + std::to_string(rank) + " dimensions, got shape " + t.shape_string());
}

void expect_same_device(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  if (a.device() != b.device())
    throw_type(std::string(a_name) + " is on " + device_name(a.device()) + " but " + b_name + " is on " +
               device_name(b.device()) + ": move them to one device with tensor.to(device)");
}

}  // namespace sr::binding
