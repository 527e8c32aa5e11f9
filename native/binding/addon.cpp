// The addon's entry point: the tensor class, backend queries, and every
// kernel binding that registered itself (see registry.h).
#include <napi.h>

#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/parallel.h"
#include "cuda/runtime.h"

namespace sr::binding {
namespace {

Napi::Value backend_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cuda::DeviceInfo d = cuda::query_device();
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("threads", num_threads());
  Napi::Object c = Napi::Object::New(env);
  c.Set("compiled", d.compiled);
  c.Set("usable", d.usable);
  if (!d.reason.empty()) c.Set("reason", d.reason);
  if (d.compiled) {
    c.Set("architectures", d.compiled_archs);
    c.Set("runtimeVersion", d.runtime_version);
    c.Set("driverVersion", d.driver_version);
  }
  if (d.usable) {
    c.Set("name", d.name);
    c.Set("totalMemory", static_cast<double>(d.total_memory));
    c.Set("freeMemory", static_cast<double>(d.free_memory));
    c.Set("computeCapability", std::to_string(d.cc_major) + "." + std::to_string(d.cc_minor));
    c.Set("multiprocessors", d.multiprocessors);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("cpu", cpu);
  out.Set("cuda", c);
  return out;
}

Napi::Value synchronize(const Napi::CallbackInfo& info) {
  if (cuda::available()) cuda::synchronize("synchronize");
  return info.Env().Undefined();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  JsTensor::init(env, exports);
  exports.Set("backendInfo", make_function(env, "backendInfo", backend_info));
  exports.Set("synchronize", make_function(env, "synchronize", synchronize));
  init_all(env, exports);
  return exports;
}

}  // namespace sr::binding

static Napi::Object init_addon(Napi::Env env, Napi::Object exports) { return sr::binding::init(env, exports); }
NODE_API_MODULE(stable_reinforce, init_addon)
