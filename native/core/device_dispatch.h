// The one way native code picks an op's CPU or CUDA entry point, for kernels and model ops alike:
//
//   SR_ON_DEVICE(device, kernels::foo_cpu(args...), kernels::foo_cuda(args...));
//
// runs the first call on Device::CPU and the second on Device::CUDA. The CUDA entry points are declared
// only in CUDA builds (under #ifdef SR_WITH_CUDA in the op headers), so this is a macro: in a CPU-only
// build the CUDA call is never compiled, and a CUDA device (which such a build cannot create) throws.
// A call whose arguments hold a comma outside parentheses (a template argument list) must be wrapped in
// parentheses or a lambda.
#pragma once
#include "core/dtype.h"
#include "core/error.h"

namespace sr {

[[noreturn]] inline void no_cuda_in_build() {
  throw_runtime("CUDA is not in this build (it was compiled without CUDA)");
}

}  // namespace sr

#ifdef SR_WITH_CUDA
#define SR_ON_DEVICE(device, cpu_call, cuda_call) \
  do {                                            \
    if ((device) == ::sr::Device::CUDA) {         \
      cuda_call;                                  \
    } else {                                      \
      cpu_call;                                   \
    }                                             \
  } while (0)
#else
#define SR_ON_DEVICE(device, cpu_call, cuda_call)                 \
  do {                                                            \
    if ((device) == ::sr::Device::CUDA) ::sr::no_cuda_in_build(); \
    cpu_call;                                                     \
  } while (0)
#endif
