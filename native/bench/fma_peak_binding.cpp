// JS: measureFmaPeak({ kernel: 'avx512' | 'avx2', threads: 'one' | 'all', seconds, repeats }) -> GFLOP/s
#include <stdexcept>

#include "bench/fma_peak.h"
#include "binding/args.h"
#include "binding/job.h"
#include "binding/registry.h"

namespace sr::binding {
namespace {

Napi::Value measure_fma_peak(const Napi::CallbackInfo& info) {
  if (!info[0].IsObject()) throw_type("options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  const std::string kernel = string_arg(o.Get("kernel"), "options.kernel");
  const std::string threads = string_arg(o.Get("threads"), "options.threads");
  const double seconds = number_arg(o.Get("seconds"), "options.seconds");
  const double repeats = number_arg(o.Get("repeats"), "options.repeats");
  if (threads != "one" && threads != "all") throw_type("options.threads must be 'one' or 'all'");
  if (!(seconds >= 0.001 && seconds <= 60)) throw_range("options.seconds must be in [0.001, 60]");
  if (!(repeats >= 1 && repeats <= 1000)) throw_range("options.repeats must be in [1, 1000]");
  try {
    return Napi::Number::New(info.Env(),
                             bench::fma_peak_cpu(kernel, threads == "all", seconds, static_cast<int>(repeats)));
  } catch (const std::invalid_argument& e) {
    throw_range(std::string("options.kernel: ") + e.what());
  }
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("measureFmaPeak", make_function(env, "measureFmaPeak", measure_fma_peak));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(fma_peak, sr::binding::init);
