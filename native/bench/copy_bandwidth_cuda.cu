#include <algorithm>
#include <vector>

#include "bench/copy_bandwidth.h"
#include "cuda/check.h"

namespace sr::bench {

double copy_bandwidth_cuda(size_t bytes, int repeats) {
  cudaStream_t s = cuda::stream();
  void *src = nullptr, *dst = nullptr;
  cuda::check(cudaMalloc(&src, bytes), "copy_bandwidth_cuda: cudaMalloc");
  cudaError_t err = cudaMalloc(&dst, bytes);
  if (err != cudaSuccess) {
    cudaFree(src);
    cuda::check(err, "copy_bandwidth_cuda: cudaMalloc");
  }
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> ms;
  cudaMemsetAsync(src, 1, bytes, s);
  cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s);  // warm-up
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    cudaEventRecord(a, s);
    cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s);
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t);
  }
  err = cudaGetLastError();
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaFree(src);
  cudaFree(dst);
  cuda::check(err, "copy_bandwidth_cuda");
  std::sort(ms.begin(), ms.end());
  return 2.0 * static_cast<double>(bytes) / (ms[ms.size() / 2] / 1e3) / 1e9;
}

}  // namespace sr::bench
