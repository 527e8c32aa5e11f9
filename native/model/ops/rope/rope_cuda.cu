// RoPE on CUDA (contract in rope.h): one thread per (row, head, i < hd / 2) pair, in place.
#include "cuda/check.h"
#include "model/ops/rope/rope.h"

namespace sr::model {

namespace {

__global__ void rope_kernel(float* __restrict__ x, const int32_t* __restrict__ pos, int64_t rows, int heads, int hd,
                            int64_t stride, const float* __restrict__ cos_t, const float* __restrict__ sin_t,
                            float sign) {
  const int half = hd / 2;
  const int64_t n = rows * heads * half;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / (static_cast<int64_t>(heads) * half);
    const int rem = static_cast<int>(e % (static_cast<int64_t>(heads) * half));
    const int h = rem / half, i = rem % half;
    const int64_t t = static_cast<int64_t>(pos[r]) * half + i;
    const float c = cos_t[t], si = sign * sin_t[t];
    float* a = x + r * stride + static_cast<int64_t>(h) * hd + i;
    const float x1 = a[0], x2 = a[half];
    a[0] = x1 * c - x2 * si;
    a[half] = x2 * c + x1 * si;
  }
}

}  // namespace

void rope_apply_cuda(float* x, const int32_t* pos, int64_t rows, int heads, int hd, int64_t stride, const float* cos_t,
                     const float* sin_t, bool inverse) {
  const int64_t n = rows * heads * (hd / 2);
  if (n <= 0) return;
  rope_kernel<<<cuda::grid_for(n, 256), 256, 0, cuda::stream()>>>(x, pos, rows, heads, hd, stride, cos_t, sin_t,
                                                                  inverse ? -1.0f : 1.0f);
  cuda::check_launch("rope_kernel (model RoPE)");
}

}  // namespace sr::model
