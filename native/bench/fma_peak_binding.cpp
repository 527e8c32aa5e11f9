// JS: measureFmaPeak({ kernel: 'avx512' | 'avx2', threads: 'one' | 'all', seconds, repeats }) -> GFLOP/s
#include <stdexcept>

#include "bench/fma_peak.h"
#include "binding/args.h"
#include "binding/job.h"
#include "binding/registry.h"

namespace sr::binding {
namespace {

constexpr Choice<bool> kThreads[] = {{"one", false}, {"all", true}};
constexpr Limit kSeconds{"seconds", "options.seconds", bench::kFmaSecondsRange};
constexpr Limit kRepeats{"repeats", "options.repeats", bench::kFmaRepeatsRange};

Napi::Value measure_fma_peak(const Napi::CallbackInfo& info) {
  const Options o(info, "options.");
  const std::string kernel = o.string("kernel");
  const bool all = o.choice("threads", kThreads);
  const double seconds = o.number(kSeconds);
  const auto repeats = static_cast<int>(o.integer(kRepeats));
  try {
    return Napi::Number::New(info.Env(), bench::fma_peak_cpu(kernel, all, seconds, repeats));
  } catch (const std::invalid_argument& e) {
    throw_range(std::string("options.kernel: ") + e.what());
  }
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("measureFmaPeak", make_function(env, "measureFmaPeak", measure_fma_peak));
  export_limits(env, exports, "measureFmaPeak", {kSeconds, kRepeats});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(fma_peak, sr::binding::init);
