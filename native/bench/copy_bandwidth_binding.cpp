// JS: measureCopyBandwidth({ device: 'cpu' | 'cuda', bytes, repeats }) -> GB/s (read + write)
#include "bench/copy_bandwidth.h"
#include "binding/args.h"
#include "binding/job.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"

namespace sr::binding {
namespace {

constexpr Limit kBytes{"bytes", "bytes", bench::kCopyBytesRange};
constexpr Limit kRepeats{"repeats", "repeats", bench::kCopyRepeatsRange};

Napi::Value measure_copy_bandwidth(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Device device = o.device("device");
  const auto bytes = static_cast<size_t>(o.integer(kBytes));
  const auto repeats = static_cast<int>(o.integer(kRepeats));
  double gbs = 0;
  SR_ON_DEVICE(device, gbs = bench::copy_bandwidth_cpu(bytes, repeats),
               gbs = bench::copy_bandwidth_cuda(bytes, repeats));
  return Napi::Number::New(info.Env(), gbs);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("measureCopyBandwidth", make_function(env, "measureCopyBandwidth", measure_copy_bandwidth));
  export_limits(env, exports, "measureCopyBandwidth", {kBytes, kRepeats});
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(copy_bandwidth, sr::binding::init);
