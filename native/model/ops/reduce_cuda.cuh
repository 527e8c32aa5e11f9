// Warp and block reductions shared by the model's CUDA ops. The block versions return the
// result to every thread, add the warps' partials in a fixed order (every thread gets the
// same, reproducible value), and start with a barrier, which also publishes the block's
// earlier global and shared writes to all of its threads. `red` holds one float per warp.
#pragma once

namespace sr::model::cuda_reduce {

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__device__ __forceinline__ double warp_sum(double x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}

template <int kThreads, class T>
__device__ T block_sum(T x, T* red) {
  x = warp_sum(x);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
  __syncthreads();
  T r = red[0];
  for (int w = 1; w < kThreads / 32; ++w) r += red[w];
  return r;
}

template <int kThreads>
__device__ float block_max(float x, float* red) {
  x = warp_max(x);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = x;
  __syncthreads();
  float r = red[0];
  for (int w = 1; w < kThreads / 32; ++w) r = fmaxf(r, red[w]);
  return r;
}

}  // namespace sr::model::cuda_reduce
