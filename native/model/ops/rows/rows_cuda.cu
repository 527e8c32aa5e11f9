// Row moves on CUDA (contract in rows.h).
#include "cuda/check.h"
#include "model/ops/rows/rows.h"

namespace sr::model {

namespace {

template <bool kScatter>
__global__ void move_rows_kernel(const float* __restrict__ src, const int64_t* __restrict__ rows, int64_t M, int64_t d,
                                 float* __restrict__ dst) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < M * d;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t m = e / d, j = e % d;
    if (kScatter) dst[rows[m] * d + j] = src[e];
    else dst[e] = src[rows[m] * d + j];
  }
}

}  // namespace

void gather_rows_cuda(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst) {
  if (M <= 0 || d <= 0) return;
  move_rows_kernel<false><<<cuda::grid_for(M * d, 256), 256, 0, cuda::stream()>>>(src, rows, M, d, dst);
  cuda::check_launch("gather_rows (model)");
}

void scatter_rows_cuda(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst) {
  if (M <= 0 || d <= 0) return;
  move_rows_kernel<true><<<cuda::grid_for(M * d, 256), 256, 0, cuda::stream()>>>(src, rows, M, d, dst);
  cuda::check_launch("scatter_rows (model)");
}

void fill_zero_cuda(float* p, int64_t n) {
  if (n <= 0) return;
  cuda::check(cudaMemsetAsync(p, 0, sizeof(float) * static_cast<size_t>(n), cuda::stream()), "fill_zero (model)");
}

void copy_floats_cuda(float* dst, const float* src, int64_t n) {
  if (n <= 0) return;
  cuda::check(
      cudaMemcpyAsync(dst, src, sizeof(float) * static_cast<size_t>(n), cudaMemcpyDeviceToDevice, cuda::stream()),
      "copy (model)");
}

}  // namespace sr::model
