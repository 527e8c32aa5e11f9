// JS: measureCopyBandwidth(device: 'cpu' | 'cuda', bytes, repeats) -> GB/s (read + write)
#include "binding/args.h"
#include "binding/job.h"
#include "binding/registry.h"
#include "bench/copy_bandwidth.h"
#include "cuda/runtime.h"

namespace sr::binding {
namespace {

Napi::Value measure_copy_bandwidth(const Napi::CallbackInfo& info) {
  const std::string device = string_arg(info[0], "device");
  const double bytes = number_arg(info[1], "bytes");
  const double repeats = number_arg(info[2], "repeats");
  if (bytes < 1 || bytes > 64e9) throw_range("bytes must be in [1, 64e9]");
  if (repeats < 1 || repeats > 10000) throw_range("repeats must be in [1, 10000]");
  double gbs = 0;
  if (device == "cpu") {
    gbs = bench::copy_bandwidth_cpu(static_cast<size_t>(bytes), static_cast<int>(repeats));
  } else if (device == "cuda") {
#ifdef SR_WITH_CUDA
    if (!cuda::available()) throw_runtime("CUDA is not available: " + cuda::query_device().reason);
    gbs = bench::copy_bandwidth_cuda(static_cast<size_t>(bytes), static_cast<int>(repeats));
#else
    throw_runtime("CUDA is not available: this build was compiled without CUDA");
#endif
  } else {
    throw_type("device must be 'cpu' or 'cuda'");
  }
  return Napi::Number::New(info.Env(), gbs);
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("measureCopyBandwidth", make_function(env, "measureCopyBandwidth", measure_copy_bandwidth));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(copy_bandwidth, sr::binding::init);
