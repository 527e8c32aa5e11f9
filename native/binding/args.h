// Argument parsing for bindings. The calling convention: every binding takes ONE argument, an object of
// named inputs (tensors, numbers, strings, `async`), read here through Options. Each getter names the input
// in its error as the TypeScript API names it, so a raw call and a call through the TypeScript wrapper fail
// with the same TypeError or RangeError:
//   "<name> is required"                   (undefined)
//   "<name> must be a number, got string"  (wrong JavaScript type)
//   "<name> must be finite, got NaN"
//   "<name> must be <range>, got <value>"  (a Limit: core/limits.h)
//   "<name> must be one of 'a', 'b', got "c""
#pragma once
#include <napi.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/limits.h"
#include "core/tensor.h"

namespace sr::binding {

// One accepted spelling of a string input and the value it stands for.
template <class E>
struct Choice {
  const char* name;
  E value;
};

class Options {
 public:
  // The call's one argument, info[0]: a TypeError unless it is an object. Its inputs are named
  // "<prefix><key>" unless a getter names them.
  explicit Options(const Napi::CallbackInfo& info, const char* prefix = "");
  // The object at `key`, whose inputs are named "<name>.<key>" (name defaults to the key's own name).
  Options object(const char* key, const char* name = nullptr) const;

  Napi::Env env() const { return obj_.Env(); }
  Napi::Value get(const char* key) const { return obj_.Get(key); }
  bool has(const char* key) const;  // given: neither undefined nor null

  // `name` (default: the key, after the object's prefix) is how errors name the input.
  const Tensor& tensor(const char* key, const char* name = nullptr) const;
  std::optional<Tensor> optional_tensor(const char* key, const char* name = nullptr) const;  // undefined/null: none
  double number(const char* key, const char* name = nullptr) const;                          // finite
  double number(const Limit& limit) const;                                                   // finite, in range
  std::optional<double> optional_number(const Limit& limit) const;  // undefined/null: not given
  int64_t integer(const Limit& limit) const;                        // limit.range.integer
  bool boolean(const char* key, const char* name = nullptr) const;
  std::string string(const char* key, const char* name = nullptr) const;
  // 'cpu', or 'cuda' when a GPU is usable (else an Error saying why).
  Device device(const char* key, const char* name = nullptr) const;
  // A typed array of one element type (e.g. napi_float32_array, "a Float32Array").
  Napi::TypedArray typed_array(const char* key, napi_typedarray_type type, const char* what,
                               const char* name = nullptr) const;
  template <class E, size_t N>
  E choice(const char* key, const Choice<E> (&choices)[N], const char* name = nullptr) const;
  // `async`: optional boolean, default false (run at once); true runs on the thread pool (binding/job.h).
  bool async() const;

  std::string name_of(const char* key, const char* name) const { return name ? name : prefix_ + key; }

 private:
  Options(Napi::Object obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}
  [[noreturn]] void bad_choice(const char* key, const std::string& name, const std::string& allowed) const;

  Napi::Object obj_;
  std::string prefix_;
};

template <class E, size_t N>
E Options::choice(const char* key, const Choice<E> (&choices)[N], const char* name) const {
  Napi::Value v = get(key);
  if (v.IsString()) {
    const std::string s = v.As<Napi::String>().Utf8Value();
    for (const Choice<E>& c : choices)
      if (s == c.name) return c.value;
  }
  std::string allowed;
  for (size_t i = 0; i < N; ++i) allowed += (i ? ", '" : "'") + std::string(choices[i].name) + "'";
  bad_choice(key, name_of(key, name), allowed);
}

// Sets native.limits[fn][limit.key] = { name, min, max, minOpen, maxOpen, integer, text } for each limit.
void export_limits(Napi::Env env, Napi::Object exports, const char* fn, std::initializer_list<Limit> limits);

// "<name> must be <range>, got <x>" unless r contains x (for values Options does not read: array entries).
void check_range(double x, const Range& r, const std::string& name);

// The readers Options is made of, for a value at hand (an array entry). Undefined is "is required".
const Tensor& tensor_arg(const Napi::Value& v, const char* name);
std::optional<Tensor> optional_tensor_arg(const Napi::Value& v, const char* name);
double number_arg(const Napi::Value& v, const char* name);  // finite
bool bool_arg(const Napi::Value& v, const char* name);
std::string string_arg(const Napi::Value& v, const char* name);

// Shape/dtype/device checks shared by kernels.
void expect_dtype(const Tensor& t, DType dtype, const char* name);
void expect_shape(const Tensor& t, const std::vector<int64_t>& shape, const char* name);
// b must be on a's device: "<b_name> is on cpu but <a_name> is on cuda: ...".
void expect_same_device(const Tensor& a, const char* a_name, const Tensor& b, const char* b_name);
// With `dims` (e.g. "[B, T]") the error reads "<name> must have shape [B, T], got [..]".
void expect_rank(const Tensor& t, size_t rank, const char* name, const char* dims = nullptr);

}  // namespace sr::binding
