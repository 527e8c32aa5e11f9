// The CUDA runtime as the rest of the native core sees it. Compiled with or
// without CUDA: without it (SR_WITH_CUDA undefined) every query reports "no
// GPU" and every device operation throws, so the CPU path never depends on it.
// All device work is ordered on one stream (device 0), so the JavaScript side
// never has to reason about concurrency between kernels.
#pragma once
#include <cstddef>
#include <string>

namespace sr::cuda {

struct DeviceInfo {
  bool compiled = false;  // built with CUDA
  bool usable = false;    // a device can be used now
  std::string reason;     // why not usable, when it is not
  std::string name;
  size_t total_memory = 0;
  size_t free_memory = 0;
  int cc_major = 0, cc_minor = 0;
  int multiprocessors = 0;
  int runtime_version = 0, driver_version = 0;
  std::string compiled_archs;  // e.g. "80;90"
};

bool compiled_with_cuda();
DeviceInfo query_device();  // never throws
bool available();           // cached: true when a device is usable

void* device_alloc(size_t bytes);      // throws sr::Error on failure
void device_free(void* ptr) noexcept;  // errors are dropped (called from destructors)
void copy_host_to_device(void* dst, const void* src, size_t bytes);
void copy_device_to_host(void* dst, const void* src, size_t bytes);
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void synchronize(const char* where);

}  // namespace sr::cuda
