// AdamW on CUDA (contract in adamw.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "cuda/check.h"
#include "cuda/runtime.h"
#include "model/ops/adamw/adamw.h"
#include "model/ops/reduce_cuda.cuh"

namespace sr::model {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 1 << 14;
constexpr long long kMaxGrid = 1 << 20;

struct DevTensor {
  float* p;
  const float* g;
  float* m;
  float* v;
  float decay;  // 1 - lr * weight_decay
};

struct Chunk {
  int64_t start, len;
  int32_t tensor;
};

__global__ void __launch_bounds__(kThreads)
    sumsq_kernel(const DevTensor* __restrict__ ts, const Chunk* __restrict__ chunks, int64_t n_chunks,
                 double* __restrict__ part) {
  __shared__ double red[kThreads / 32];
  for (int64_t c = blockIdx.x; c < n_chunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const float* g = ts[ch.tensor].g + ch.start;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < ch.len; i += kThreads) s += static_cast<double>(g[i]) * g[i];
    s = cuda_reduce::block_sum<kThreads>(s, red);
    if (threadIdx.x == 0) part[c] = s;
  }
}

__global__ void __launch_bounds__(kThreads)
    update_kernel(const DevTensor* __restrict__ ts, const Chunk* __restrict__ chunks, int64_t n_chunks, float c,
                  float b1, float b2, float lr_bc1, float inv_sqrt_bc2, float eps) {
  for (int64_t k = blockIdx.x; k < n_chunks; k += gridDim.x) {
    const Chunk ch = chunks[k];
    const DevTensor t = ts[ch.tensor];
    for (int64_t i = ch.start + threadIdx.x; i < ch.start + ch.len; i += kThreads) {
      const float gi = t.g[i] * c;
      const float mi = b1 * t.m[i] + (1.0f - b1) * gi;
      const float vi = b2 * t.v[i] + (1.0f - b2) * gi * gi;
      t.m[i] = mi;
      t.v[i] = vi;
      t.p[i] = t.p[i] * t.decay - lr_bc1 * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
  }
}

template <class T>
Tensor upload(const std::vector<T>& v) {
  Tensor t = empty_tensor({static_cast<int64_t>(v.size() * sizeof(T))}, DType::U8, Device::CUDA);
  copy_from_host(t, v.data(), v.size() * sizeof(T));
  return t;
}

}  // namespace

double adamw_step_cuda(const std::vector<AdamWTensor>& tensors, const AdamWHyper& h) {
  std::vector<DevTensor> ts;
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const AdamWTensor& t = tensors[i];
    ts.push_back({t.param, t.grad, t.m, t.v, static_cast<float>(1.0 - h.lr * t.weight_decay)});
    for (int64_t s = 0; s < t.n; s += kChunk) chunks.push_back({s, std::min(kChunk, t.n - s), static_cast<int32_t>(i)});
  }
  if (chunks.empty()) return 0.0;
  const int64_t n = static_cast<int64_t>(chunks.size());
  Tensor d_ts = upload(ts), d_chunks = upload(chunks);
  Tensor d_part = empty_tensor({n * static_cast<int64_t>(sizeof(double))}, DType::U8, Device::CUDA);
  const auto* dts = static_cast<const DevTensor*>(d_ts.storage->data());
  const auto* dch = static_cast<const Chunk*>(d_chunks.storage->data());
  auto* part = static_cast<double*>(d_part.storage->data());
  const unsigned grid = static_cast<unsigned>(std::min<long long>(n, kMaxGrid));
  cudaStream_t s = cuda::stream();
  sumsq_kernel<<<grid, kThreads, 0, s>>>(dts, dch, n, part);
  cuda::check_launch("sumsq_kernel (model AdamW)");
  std::vector<double> host(static_cast<size_t>(n));
  cuda::copy_device_to_host(host.data(), part, sizeof(double) * host.size());
  double ss = 0.0;
  for (double x : host) ss += x;
  const double norm = std::sqrt(ss);
  if (!std::isfinite(norm)) return norm;
  const float c = h.max_norm > 0 && norm > h.max_norm ? static_cast<float>(h.max_norm / (norm + 1e-6)) : 1.0f;
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(h.step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(h.step));
  update_kernel<<<grid, kThreads, 0, s>>>(dts, dch, n, c, static_cast<float>(h.beta1), static_cast<float>(h.beta2),
                                          static_cast<float>(h.lr / bc1), static_cast<float>(1.0 / std::sqrt(bc2)),
                                          static_cast<float>(h.eps));
  cuda::check_launch("update_kernel (model AdamW)");
  return norm;
}

}  // namespace sr::model
