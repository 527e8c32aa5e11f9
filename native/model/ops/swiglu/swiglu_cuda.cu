// SwiGLU on CUDA (contract in swiglu.h): elementwise, grid-stride.
#include "cuda/check.h"
#include "model/ops/swiglu/swiglu.h"

namespace sr::model {

namespace {

// a may alias g (the decoding step writes in place).
__global__ void swiglu_forward_kernel(const float* g, const float* __restrict__ u, float* a, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float s = 1.0f / (1.0f + expf(-g[i]));
    a[i] = g[i] * s * u[i];
  }
}

// dg may alias da: each element is read before it is written, by the same thread.
__global__ void swiglu_backward_kernel(const float* __restrict__ g, const float* __restrict__ u, const float* da,
                                       float* dg, float* __restrict__ du, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float s = 1.0f / (1.0f + expf(-g[i]));
    const float d = da[i];
    du[i] = d * g[i] * s;
    dg[i] = d * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

}  // namespace

void swiglu_forward_cuda(const float* g, const float* u, float* a, int64_t n) {
  if (n <= 0) return;
  swiglu_forward_kernel<<<cuda::grid_for(n, 256), 256, 0, cuda::stream()>>>(g, u, a, n);
  cuda::check_launch("swiglu_forward_kernel (model SwiGLU)");
}

void swiglu_backward_cuda(const float* g, const float* u, const float* da, float* dg, float* du, int64_t n) {
  if (n <= 0) return;
  swiglu_backward_kernel<<<cuda::grid_for(n, 256), 256, 0, cuda::stream()>>>(g, u, da, dg, du, n);
  cuda::check_launch("swiglu_backward_kernel (model SwiGLU)");
}

}  // namespace sr::model
