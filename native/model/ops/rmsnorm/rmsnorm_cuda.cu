// RMSNorm on CUDA (contract in rmsnorm.h).
#include <algorithm>

#include "core/tensor.h"
#include "cuda/check.h"
#include "model/ops/reduce_cuda.cuh"
#include "model/ops/rmsnorm/rmsnorm.h"

namespace sr::model {

namespace {

constexpr int kThreads = 128;
constexpr int kChunkRows = 32;  // rows per dw partial: fixed, so dw does not depend on the GPU
constexpr long long kMaxGrid = 1 << 20;

__global__ void __launch_bounds__(kThreads)
    rmsnorm_forward_kernel(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                           float* __restrict__ inv, int64_t rows, int64_t d, float eps) {
  __shared__ float red[kThreads / 32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * d;
    float ss = 0.0f;
    for (int64_t j = threadIdx.x; j < d; j += kThreads) ss = fmaf(xr[j], xr[j], ss);
    ss = cuda_reduce::block_sum<kThreads>(ss, red);
    const float s = 1.0f / sqrtf(ss / static_cast<float>(d) + eps);
    if (threadIdx.x == 0) inv[r] = s;
    for (int64_t j = threadIdx.x; j < d; j += kThreads) y[r * d + j] = xr[j] * s * w[j];
  }
}

// dx for the chunk's rows, and part[chunk, j] = sum over the chunk's rows of dy * x * inv.
__global__ void __launch_bounds__(kThreads)
    rmsnorm_backward_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ inv,
                            const float* __restrict__ dy, float* __restrict__ dx, float* __restrict__ part,
                            int64_t rows, int64_t d, bool accumulate) {
  __shared__ float red[kThreads / 32];
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {
    const int64_t r0 = c * kChunkRows, r1 = min(rows, r0 + kChunkRows);
    float* pc = part + c * d;
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * d;
      const float* gr = dy + r * d;
      const float s = inv[r];
      float dot = 0.0f;
      for (int64_t j = threadIdx.x; j < d; j += kThreads) dot += gr[j] * w[j] * xr[j] * s;
      const float mean = cuda_reduce::block_sum<kThreads>(dot, red) / static_cast<float>(d);
      for (int64_t j = threadIdx.x; j < d; j += kThreads) {
        const float v = s * (gr[j] * w[j] - xr[j] * s * mean);
        dx[r * d + j] = accumulate ? dx[r * d + j] + v : v;
        const float p = gr[j] * xr[j] * s;
        pc[j] = r == r0 ? p : pc[j] + p;  // this thread owns column j of the partial
      }
    }
  }
}

__global__ void rmsnorm_dw_kernel(const float* __restrict__ part, float* __restrict__ dw, int64_t chunks, int64_t d) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < d;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = dw[j];
    for (int64_t c = 0; c < chunks; ++c) s += part[c * d + j];  // chunk order, like the CPU
    dw[j] = s;
  }
}

unsigned grid_rows(int64_t n) { return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(n, kMaxGrid))); }

}  // namespace

void rmsnorm_forward_cuda(const float* x, const float* w, float* y, float* inv, int64_t rows, int64_t d, float eps) {
  if (rows <= 0 || d <= 0) return;
  rmsnorm_forward_kernel<<<grid_rows(rows), kThreads, 0, cuda::stream()>>>(x, w, y, inv, rows, d, eps);
  cuda::check_launch("rmsnorm_forward_kernel (model RMSNorm)");
}

void rmsnorm_backward_cuda(const float* x, const float* w, const float* inv, const float* dy, float* dx, float* dw,
                           int64_t rows, int64_t d, bool accumulate_dx) {
  if (rows <= 0 || d <= 0) return;
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  // Stream-ordered allocation from the pool; freed (stream-ordered) when `part` goes out of scope.
  Tensor part = empty_tensor({chunks, d}, DType::F32, Device::CUDA);
  cudaStream_t s = cuda::stream();
  rmsnorm_backward_kernel<<<grid_rows(chunks), kThreads, 0, s>>>(x, w, inv, dy, dx, part.data<float>(), rows, d,
                                                                 accumulate_dx);
  cuda::check_launch("rmsnorm_backward_kernel (model RMSNorm)");
  rmsnorm_dw_kernel<<<cuda::grid_for(d, 128), 128, 0, s>>>(part.data<float>(), dw, chunks, d);
  cuda::check_launch("rmsnorm_dw_kernel (model RMSNorm)");
}

}  // namespace sr::model
