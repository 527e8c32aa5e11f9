#include <cstdint>

#include "cuda/check.h"
#include "cuda/runtime.h"
#include "kernels/advantage_filter/advantage_filter.h"

namespace sr::kernels {

namespace {

constexpr int kBlock = 256;
constexpr int kWarps = kBlock / 32;
// The reduction and apply grids depend on n only (not on the GPU), so results are
// reproducible across devices; 1024 x 256 threads fill an H100.
constexpr long long kMaxBlocks = 1024;

struct Moments {
  double count, mean, m2;
};

// Per-block partial of the reduction.
struct Partial {
  Moments m;
  unsigned long long masked;
};

// Written by the finalize kernel, read by the apply kernel, copied back once.
struct DeviceStats {
  double mean, std, inv, zlo, zhi;
  unsigned long long valid, masked, kept;
};

__device__ __forceinline__ Moments merge(Moments a, Moments b) {
  if (b.count == 0) return a;
  if (a.count == 0) return b;
  const double n = a.count + b.count;
  const double delta = b.mean - a.mean;
  Moments r;
  r.mean = a.mean + delta * (b.count / n);
  r.m2 = a.m2 + b.m2 + delta * delta * (a.count * b.count / n);
  r.count = n;
  return r;
}

__device__ __forceinline__ Moments shfl_down(Moments m, int offset) {
  Moments o;
  o.count = __shfl_down_sync(0xffffffffu, m.count, offset);
  o.mean = __shfl_down_sync(0xffffffffu, m.mean, offset);
  o.m2 = __shfl_down_sync(0xffffffffu, m.m2, offset);
  return o;
}

// Block-wide merge in a fixed tree order; the result is valid in thread 0.
__device__ Partial block_merge(Partial p) {
  __shared__ Partial warp_part[kWarps];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  for (int off = 16; off > 0; off >>= 1) {
    const Moments o = shfl_down(p.m, off);
    const unsigned long long om = __shfl_down_sync(0xffffffffu, p.masked, off);
    p.m = merge(p.m, o);
    p.masked += om;
  }
  if (lane == 0) warp_part[warp] = p;
  __syncthreads();
  if (warp == 0) {
    p = lane < kWarps ? warp_part[lane] : Partial{{0, 0, 0}, 0};
    for (int off = 16; off > 0; off >>= 1) {
      const Moments o = shfl_down(p.m, off);
      const unsigned long long om = __shfl_down_sync(0xffffffffu, p.masked, off);
      p.m = merge(p.m, o);
      p.masked += om;
    }
  }
  return p;
}

__device__ __forceinline__ bool is_finite(float v) { return (__float_as_uint(v) & 0x7f800000u) != 0x7f800000u; }

// Per-thread running sums relative to the thread's first valid value, so that a
// large common offset cancels before squaring.
struct ShiftedSums {
  double shift = 0, s1 = 0, s2 = 0;
  unsigned long long valid = 0, masked = 0;
  __device__ __forceinline__ void add(float v, bool mv) {
    if (!mv) return;
    ++masked;
    if (!is_finite(v)) return;
    if (valid == 0) shift = static_cast<double>(v);
    const double d = static_cast<double>(v) - shift;
    s1 += d;
    s2 += d * d;
    ++valid;
  }
};

__global__ void __launch_bounds__(kBlock) reduce_kernel(const float* __restrict__ x, const uint8_t* __restrict__ mask,
                                                        long long n, bool vec, Partial* __restrict__ partials) {
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  const long long tid = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  ShiftedSums s;
  const long long nq = vec ? n / 4 : 0;
  for (long long q = tid; q < nq; q += stride) {
    const float4 v = reinterpret_cast<const float4*>(x)[q];
    uchar4 m = make_uchar4(1, 1, 1, 1);
    if (mask) m = reinterpret_cast<const uchar4*>(mask)[q];
    s.add(v.x, m.x != 0);
    s.add(v.y, m.y != 0);
    s.add(v.z, m.z != 0);
    s.add(v.w, m.w != 0);
  }
  for (long long i = nq * 4 + tid; i < n; i += stride) s.add(x[i], mask ? mask[i] != 0 : true);

  Partial p;
  p.masked = s.masked;
  p.m.count = static_cast<double>(s.valid);
  p.m.mean = s.valid ? s.shift + s.s1 / p.m.count : 0.0;
  p.m.m2 = s.valid ? fmax(0.0, s.s2 - s.s1 * (s.s1 / p.m.count)) : 0.0;
  p = block_merge(p);
  if (threadIdx.x == 0) partials[blockIdx.x] = p;
}

// One block: merges the partials in a fixed order and derives everything the
// apply kernel needs, so the host never waits between the passes.
__global__ void __launch_bounds__(kBlock) finalize_kernel(const Partial* __restrict__ partials, int count, double sigma,
                                                          double eps, int rule, DeviceStats* __restrict__ st) {
  Partial p{{0, 0, 0}, 0};
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    const Partial q = partials[i];
    p.m = merge(p.m, q.m);
    p.masked += q.masked;
  }
  p = block_merge(p);
  if (threadIdx.x != 0) return;
  const bool any = p.m.count > 0;
  const double mean = any ? p.m.mean : 0.0;
  const double sd = any ? sqrt(p.m.m2 / p.m.count) : 0.0;
  st->mean = mean;
  st->std = sd;
  st->inv = sd > 0 ? 1.0 / (sd + eps) : 0.0;  // sd == 0: all valid values equal the mean
  if (rule == static_cast<int>(FilterRule::ReleasedCode)) {
    st->zlo = fmax(mean - sigma, -kReleasedCodeZLimit);
    st->zhi = fmin(mean + sigma, kReleasedCodeZLimit);
  } else {
    st->zlo = -sigma;
    st->zhi = sigma;
  }
  st->valid = static_cast<unsigned long long>(p.m.count);
  st->masked = p.masked;
  st->kept = 0;
}

__device__ __forceinline__ float filter_one(float v, bool mv, double mean, double inv, double zlo, double zhi,
                                            unsigned& kept) {
  const double z = (static_cast<double>(v) - mean) * inv;
  const bool keep = mv && is_finite(v) && z >= zlo && z <= zhi;
  kept += keep;
  return keep ? static_cast<float>(z) : 0.0f;
}

__global__ void __launch_bounds__(kBlock)
    apply_kernel(const float* __restrict__ x, const uint8_t* __restrict__ mask, float* __restrict__ out, long long n,
                 bool vec, DeviceStats* __restrict__ st) {
  const double mean = st->mean, inv = st->inv, zlo = st->zlo, zhi = st->zhi;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  const long long tid = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  unsigned kept = 0;  // per thread: at most n / (grid * block) + 4, far below 2^32 for n <= 2^40
  const long long nq = vec ? n / 4 : 0;
  for (long long q = tid; q < nq; q += stride) {
    const float4 v = reinterpret_cast<const float4*>(x)[q];
    uchar4 m = make_uchar4(1, 1, 1, 1);
    if (mask) m = reinterpret_cast<const uchar4*>(mask)[q];
    float4 o;
    o.x = filter_one(v.x, m.x != 0, mean, inv, zlo, zhi, kept);
    o.y = filter_one(v.y, m.y != 0, mean, inv, zlo, zhi, kept);
    o.z = filter_one(v.z, m.z != 0, mean, inv, zlo, zhi, kept);
    o.w = filter_one(v.w, m.w != 0, mean, inv, zlo, zhi, kept);
    reinterpret_cast<float4*>(out)[q] = o;
  }
  for (long long i = nq * 4 + tid; i < n; i += stride)
    out[i] = filter_one(x[i], mask ? mask[i] != 0 : true, mean, inv, zlo, zhi, kept);

  // Integer sums are order-independent, so one atomic per block stays deterministic.
  __shared__ unsigned long long warp_kept[kWarps];
  unsigned long long k = kept;
  for (int off = 16; off > 0; off >>= 1) k += __shfl_down_sync(0xffffffffu, k, off);
  if ((threadIdx.x & 31) == 0) warp_kept[threadIdx.x >> 5] = k;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned long long total = 0;
    for (int w = 0; w < kWarps; ++w) total += warp_kept[w];
    if (total) atomicAdd(&st->kept, total);
  }
}

// Scratch memory, freed in stream order (also when a launch throws).
struct Scratch {
  void* ptr;
  explicit Scratch(size_t bytes) : ptr(cuda::device_alloc(bytes)) {}
  ~Scratch() { cuda::device_free(ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

}  // namespace

void advantage_filter_cuda(const float* values, const uint8_t* mask, float* out, int64_t n, double sigma, double eps,
                           FilterRule rule, AdvantageFilterStats* stats) {
  *stats = AdvantageFilterStats{};
  if (n <= 0) return;
  cudaStream_t s = cuda::stream();
  long long blocks = (n + kBlock * 4LL - 1) / (kBlock * 4LL);
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  const int grid = static_cast<int>(blocks);
  // float4 / uchar4 loads need aligned bases (device allocations are 256-byte aligned).
  const bool vec = (reinterpret_cast<uintptr_t>(values) % 16 == 0) && (reinterpret_cast<uintptr_t>(out) % 16 == 0) &&
                   (!mask || reinterpret_cast<uintptr_t>(mask) % 4 == 0);

  const size_t stats_offset = (sizeof(Partial) * static_cast<size_t>(grid) + 255) / 256 * 256;
  Scratch scratch(stats_offset + sizeof(DeviceStats));
  Partial* partials = static_cast<Partial*>(scratch.ptr);
  DeviceStats* st = reinterpret_cast<DeviceStats*>(static_cast<char*>(scratch.ptr) + stats_offset);

  reduce_kernel<<<grid, kBlock, 0, s>>>(values, mask, n, vec, partials);
  cuda::check_launch("advantage_filter reduce_kernel");
  finalize_kernel<<<1, kBlock, 0, s>>>(partials, grid, sigma, eps, static_cast<int>(rule), st);
  cuda::check_launch("advantage_filter finalize_kernel");
  apply_kernel<<<grid, kBlock, 0, s>>>(values, mask, out, n, vec, st);
  cuda::check_launch("advantage_filter apply_kernel");

  // The one synchronisation: the caller asked for the statistics.
  DeviceStats host;
  cuda::copy_device_to_host(&host, st, sizeof(DeviceStats));
  stats->mean = host.mean;
  stats->std = host.std;
  stats->kept = static_cast<int64_t>(host.kept);
  stats->filtered = static_cast<int64_t>(host.valid) - static_cast<int64_t>(host.kept);
  stats->non_finite = static_cast<int64_t>(host.masked) - static_cast<int64_t>(host.valid);
}

}  // namespace sr::kernels
