#include "cuda/runtime.h"

#include <mutex>

#include "core/error.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime.h>

#include "cuda/check.h"
#endif

namespace sr::cuda {

#ifndef SR_WITH_CUDA

bool compiled_with_cuda() { return false; }
DeviceInfo query_device() {
  DeviceInfo info;
  info.reason =
      "this build of stable-reinforce was compiled without CUDA (nvcc was not found at build time, or SR_CUDA=OFF)";
  return info;
}
bool available() { return false; }
[[noreturn]] static void no_cuda() { throw_runtime("CUDA is not available: this build was compiled without CUDA"); }
void* device_alloc(size_t) { no_cuda(); }
void device_free(void*) noexcept {}
void copy_host_to_device(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_host(void*, const void*, size_t) { no_cuda(); }
void copy_device_to_device(void*, const void*, size_t) { no_cuda(); }
void synchronize(const char*) { no_cuda(); }

#else

#ifndef SR_CUDA_ARCHS
#define SR_CUDA_ARCHS ""
#endif

bool compiled_with_cuda() { return true; }

namespace {
// Oldest architecture in SR_CUDA_ARCHS ("80,90", "80-real,90", ...), as 10 * major + minor; 0 when
// it names none ("native", "all"). A device older than every compiled architecture has no kernel
// image to run: without this check it would be reported usable and fail at its first launch.
int oldest_compiled_arch() {
  int oldest = 0;
  const char* p = SR_CUDA_ARCHS;
  while (*p) {
    int v = 0;
    bool digits = false;
    while (*p >= '0' && *p <= '9') {
      v = v * 10 + (*p++ - '0');
      digits = true;
    }
    if (digits && (oldest == 0 || v < oldest)) oldest = v;
    while (*p && *p != ',' && *p != ';') ++p;  // skip "-real" and the like
    if (*p) ++p;
  }
  return oldest;
}
}  // namespace

DeviceInfo query_device() {
  DeviceInfo info;
  info.compiled = true;
  info.compiled_archs = SR_CUDA_ARCHS;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    info.reason = std::string("no usable CUDA device: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  if (count == 0) {
    info.reason = "no CUDA device found";
    return info;
  }
  cudaDeviceProp prop;
  err = cudaGetDeviceProperties(&prop, 0);
  if (err != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorName(err);
    cudaGetLastError();
    return info;
  }
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
    info.free_memory = free_b;
  } else {
    cudaGetLastError();  // not fatal; keep it out of the next launch check on this thread
  }
  const int oldest = oldest_compiled_arch();
  if (oldest > 0 && prop.major * 10 + prop.minor < oldest) {
    info.reason = "GPU 0 (" + info.name + ") has compute capability " + std::to_string(prop.major) + "." +
                  std::to_string(prop.minor) + ", older than every architecture this build was compiled for (" +
                  SR_CUDA_ARCHS + "); rebuild with SR_CUDA_ARCHS including " + std::to_string(prop.major) +
                  std::to_string(prop.minor);
    return info;
  }
  info.usable = true;
  return info;
}

bool available() {
  static const bool ok = query_device().usable;
  return ok;
}

namespace {
std::once_flag g_stream_once;
cudaStream_t g_stream = nullptr;
bool g_async_alloc = false;

void init_stream() {
  check(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  int pools = 0;
  if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, 0) == cudaSuccess && pools) {
    // Keep freed blocks in the pool instead of returning them to the driver at
    // every synchronisation: allocation then costs about as much as a kernel launch.
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, 0) == cudaSuccess) {
      uint64_t threshold = UINT64_MAX;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
      g_async_alloc = true;
    }
  }
  cudaGetLastError();  // a failed optional query above must not surface at the next launch check
}
}  // namespace

cudaStream_t stream() {
  if (!available()) throw_runtime("CUDA is not available: " + query_device().reason);
  std::call_once(g_stream_once, init_stream);
  return g_stream;
}

void* device_alloc(size_t bytes) {
  cudaStream_t s = stream();
  void* p = nullptr;
  cudaError_t err = g_async_alloc ? cudaMallocAsync(&p, bytes, s) : cudaMalloc(&p, bytes);
  if (err == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw_range("out of GPU memory allocating " + std::to_string(bytes) + " bytes (cudaErrorMemoryAllocation)");
  }
  check(err, "device_alloc");
  return p;
}

void device_free(void* ptr) noexcept {
  if (!ptr) return;
  const cudaError_t err = g_async_alloc ? cudaFreeAsync(ptr, g_stream) : cudaFree(ptr);
  // Dropped, but cleared: otherwise the next check_launch on this thread would report it.
  if (err != cudaSuccess) cudaGetLastError();
}

void copy_host_to_device(void* dst, const void* src, size_t bytes) {
  cudaStream_t s = stream();
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s), "copy host->device");
  check(cudaStreamSynchronize(s), "copy host->device (synchronize)");
}

void copy_device_to_host(void* dst, const void* src, size_t bytes) {
  cudaStream_t s = stream();
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s), "copy device->host");
  check(cudaStreamSynchronize(s), "copy device->host (synchronize)");
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()), "copy device->device");
}

void synchronize(const char* where) { check(cudaStreamSynchronize(stream()), where); }

#endif

}  // namespace sr::cuda
