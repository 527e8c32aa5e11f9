// CUDA error checking for launchers: a failed call or launch becomes an
// sr::Error naming the CUDA error and where it happened.
#pragma once
#ifdef SR_WITH_CUDA
#include <cuda_runtime.h>

#include <string>

#include "core/error.h"

namespace sr::cuda {

cudaStream_t stream();  // the core's stream on the current device

[[noreturn]] inline void raise_cuda_error(cudaError_t err, const char* where) {
  throw Error(ErrorKind::Runtime,
              std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ") in " + where);
}

inline void check(cudaError_t err, const char* where) {
  if (err != cudaSuccess) {
    // A failed call also becomes this thread's "last error"; left there, the next
    // check_launch on this thread would report it again, named after an innocent kernel.
    cudaGetLastError();
    raise_cuda_error(err, where);
  }
}

// After a kernel launch: reports launch-configuration errors at once (the
// asynchronous ones surface at the next synchronising call, named there).
inline void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

// Grid size for a grid-stride loop over n elements.
inline unsigned grid_for(long long n, int block, int max_blocks = 65535 * 16) {
  long long g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > max_blocks) g = max_blocks;
  return static_cast<unsigned>(g);
}

}  // namespace sr::cuda
#endif
