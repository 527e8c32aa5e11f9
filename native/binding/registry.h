// Each kernel's binding file registers itself here, so adding a kernel never
// touches a central list: define an init function that sets the kernel's
// exports, then SR_REGISTER_BINDING(name, init) at file scope.
#pragma once
#include <napi.h>

namespace sr::binding {

using InitFn = void (*)(Napi::Env env, Napi::Object exports);

struct Registrar {
  Registrar(const char* name, InitFn init);
};

void init_all(Napi::Env env, Napi::Object exports);

}  // namespace sr::binding

#define SR_REGISTER_BINDING(name, init) static ::sr::binding::Registrar sr_binding_registrar_##name(#name, init)
