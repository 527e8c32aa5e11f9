#include <algorithm>
#include <vector>

#include "bench/copy_bandwidth.h"
#include "cuda/check.h"
#include "cuda/runtime.h"

namespace sr::bench {

namespace {

// From the core's allocator (the stream-ordered pool): plain cudaMalloc can fail while the pool
// still holds freed tensor memory (its release threshold is "never"), and an OOM here is then the
// same RangeError as for a tensor. Freed in stream order, also when a call below throws.
struct DeviceBuffer {
  void* ptr;
  explicit DeviceBuffer(size_t bytes) : ptr(cuda::device_alloc(bytes)) {}
  ~DeviceBuffer() { cuda::device_free(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct Event {
  cudaEvent_t e = nullptr;
  Event() { cuda::check(cudaEventCreate(&e), "copy_bandwidth_cuda: cudaEventCreate"); }
  ~Event() { cudaEventDestroy(e); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

}  // namespace

// Timed on the core's stream: an async kernel job queued meanwhile is timed too, so measure
// while nothing else runs.
double copy_bandwidth_cuda(size_t bytes, int repeats) {
  cudaStream_t s = cuda::stream();
  DeviceBuffer src(bytes), dst(bytes);
  Event a, b;
  std::vector<float> ms;
  cuda::check(cudaMemsetAsync(src.ptr, 1, bytes, s), "copy_bandwidth_cuda: memset");
  cuda::check(cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice, s), "copy_bandwidth_cuda: warm-up");
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    cuda::check(cudaEventRecord(a.e, s), "copy_bandwidth_cuda: cudaEventRecord");
    cuda::check(cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice, s), "copy_bandwidth_cuda: copy");
    cuda::check(cudaEventRecord(b.e, s), "copy_bandwidth_cuda: cudaEventRecord");
    cuda::check(cudaEventSynchronize(b.e), "copy_bandwidth_cuda: cudaEventSynchronize");
    float t = 0;
    cuda::check(cudaEventElapsedTime(&t, a.e, b.e), "copy_bandwidth_cuda: cudaEventElapsedTime");
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return 2.0 * static_cast<double>(bytes) / (ms[ms.size() / 2] / 1e3) / 1e9;
}

}  // namespace sr::bench
