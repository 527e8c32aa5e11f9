#include "binding/registry.h"

#include <string>
#include <utility>
#include <vector>

namespace sr::binding {

namespace {
std::vector<std::pair<const char*, InitFn>>& registry() {
  static std::vector<std::pair<const char*, InitFn>> r;
  return r;
}
}  // namespace

Registrar::Registrar(const char* name, InitFn init) { registry().emplace_back(name, init); }

void init_all(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& [name, init] : registry()) {
    init(env, exports);
    names.Set(i++, Napi::String::New(env, name));
  }
  exports.Set("registeredBindings", names);
}

}  // namespace sr::binding
