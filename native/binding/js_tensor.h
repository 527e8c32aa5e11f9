// The JavaScript handle of a native tensor (class NativeTensor). The
// TypeScript Tensor class wraps it; users never see it directly.
// JS: NativeTensor.fromTypedArray({ data, shape, dtype, device }), t.copyTo({ target }),
//     t.toDevice({ device }), t.dispose(), t.isDisposed(), t.byteLength().
#pragma once
#include <napi.h>

#include <optional>

#include "core/tensor.h"

namespace sr::binding {

class JsTensor : public Napi::ObjectWrap<JsTensor> {
 public:
  static void init(Napi::Env env, Napi::Object exports);
  // A new JavaScript handle owning `t`.
  static Napi::Object wrap(Napi::Env env, Tensor t);
  // The live tensor behind `v`, or a TypeError naming `arg`.
  static const Tensor& unwrap(const Napi::Value& v, const char* arg);
  static bool is_tensor(const Napi::Value& v);

  explicit JsTensor(const Napi::CallbackInfo& info);
  ~JsTensor() override;

 private:
  static Napi::Value from_typed_array(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value is_disposed(const Napi::CallbackInfo& info);
  Napi::Value copy_to_typed_array(const Napi::CallbackInfo& info);
  Napi::Value to_device(const Napi::CallbackInfo& info);
  Napi::Value byte_length(const Napi::CallbackInfo& info);
  void release(Napi::Env env);

  std::optional<Tensor> tensor_;
  int64_t accounted_bytes_ = 0;  // reported to V8 as external memory
};

}  // namespace sr::binding
