// Argument parsing for kernel bindings. Every helper names the argument in its
// error, so the user learns which input was wrong and what was expected.
#pragma once
#include <napi.h>

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace sr::binding {

const Tensor& tensor_arg(const Napi::Value& v, const char* name);
std::optional<Tensor> optional_tensor_arg(const Napi::Value& v, const char* name);
double number_arg(const Napi::Value& v, const char* name);  // finite
bool bool_arg(const Napi::Value& v, const char* name);
std::string string_arg(const Napi::Value& v, const char* name);

// Shape/dtype/device checks shared by kernels.
void expect_dtype(const Tensor& t, DType dtype, const char* name);
void expect_shape(const Tensor& t, const std::vector<int64_t>& shape, const char* name);
void expect_same_device(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name);
void expect_rank(const Tensor& t, size_t rank, const char* name);

}  // namespace sr::binding
