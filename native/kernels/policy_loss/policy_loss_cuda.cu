#include <cstdint>
#include <memory>

#include "core/tensor.h"
#include "cuda/check.h"
#include "cuda/runtime.h"
#include "kernels/policy_loss/policy_loss.h"

namespace sr::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
// A fixed cap (not derived from the GPU) so the partials, hence the sums, are the same on every device.
constexpr int kMaxBlocks = 2048;
constexpr long long kCountTile = 1024;  // mask bytes one warp counts per step

struct GpuExp {
  __device__ float operator()(float x) const { return expf(x); }
};

// Per-block sums of the fused kernel.
struct Partial {
  double loss_u, ratio, approx_kl, kl;
  float ratio_max;
  unsigned long long clipped, pre_clipped, non_finite;
};

// What the reduce kernel leaves for the host.
struct DeviceSums {
  double loss_u, ratio, approx_kl, kl;
  float ratio_max;
  unsigned long long clipped, pre_clipped, non_finite, valid_tokens, valid_rows;
};

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ unsigned long long warp_sum(unsigned long long v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ unsigned warp_sum(unsigned v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum/max in a fixed order; the result is valid in thread 0. Every thread must call it.
struct BlockReduce {
  double d[4][kWarps];
  float f[kWarps];
  unsigned long long u[3][kWarps];
};

__device__ void block_reduce(Partial& v, BlockReduce& sh) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v.loss_u = warp_sum(v.loss_u);
  v.ratio = warp_sum(v.ratio);
  v.approx_kl = warp_sum(v.approx_kl);
  v.kl = warp_sum(v.kl);
  v.ratio_max = warp_max(v.ratio_max);
  v.clipped = warp_sum(v.clipped);
  v.pre_clipped = warp_sum(v.pre_clipped);
  v.non_finite = warp_sum(v.non_finite);
  if (lane == 0) {
    sh.d[0][warp] = v.loss_u;
    sh.d[1][warp] = v.ratio;
    sh.d[2][warp] = v.approx_kl;
    sh.d[3][warp] = v.kl;
    sh.f[warp] = v.ratio_max;
    sh.u[0][warp] = v.clipped;
    sh.u[1][warp] = v.pre_clipped;
    sh.u[2][warp] = v.non_finite;
  }
  __syncthreads();
  if (warp == 0) {
    const bool has = lane < kWarps;
    v.loss_u = warp_sum(has ? sh.d[0][lane] : 0.0);
    v.ratio = warp_sum(has ? sh.d[1][lane] : 0.0);
    v.approx_kl = warp_sum(has ? sh.d[2][lane] : 0.0);
    v.kl = warp_sum(has ? sh.d[3][lane] : 0.0);
    v.ratio_max = warp_max(has ? sh.f[lane] : 0.0f);
    v.clipped = warp_sum(has ? sh.u[0][lane] : 0ull);
    v.pre_clipped = warp_sum(has ? sh.u[1][lane] : 0ull);
    v.non_finite = warp_sum(has ? sh.u[2][lane] : 0ull);
  }
}

// counts[b] += valid tokens of row b; one warp per (row, tile of kCountTile columns).
__global__ void __launch_bounds__(kThreads)
    row_count_kernel(const uint8_t* __restrict__ mask, long long rows, long long cols, long long tiles_per_row,
                     unsigned long long* __restrict__ counts) {
  const int lane = threadIdx.x & 31;
  const long long warps = (static_cast<long long>(gridDim.x) * blockDim.x) >> 5;
  const long long tiles = rows * tiles_per_row;
  for (long long t = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5; t < tiles; t += warps) {
    const long long b = t / tiles_per_row;
    const long long c0 = (t - b * tiles_per_row) * kCountTile;
    const long long c1 = c0 + kCountTile < cols ? c0 + kCountTile : cols;
    const uint8_t* row = mask + b * cols;
    unsigned cnt = 0;
    for (long long c = c0 + lane; c < c1; c += 32) cnt += row[c] != 0;
    cnt = warp_sum(cnt);  // the whole warp shares t, so all lanes are here
    if (lane == 0 && cnt) atomicAdd(counts + b, static_cast<unsigned long long>(cnt));
  }
}

// totals = {valid tokens, rows with a valid token}; row_scale[b] = 1 / n_b (0 for an empty row) when wanted.
__global__ void __launch_bounds__(kThreads)
    row_norm_kernel(const unsigned long long* __restrict__ counts, long long rows, double* __restrict__ row_scale,
                    unsigned long long* __restrict__ totals) {
  unsigned long long tok = 0, seq = 0;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long b = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; b < rows; b += stride) {
    const unsigned long long n = counts[b];
    tok += n;
    seq += n != 0;
    if (row_scale) row_scale[b] = n ? 1.0 / static_cast<double>(n) : 0.0;
  }
  tok = warp_sum(tok);
  seq = warp_sum(seq);
  __shared__ unsigned long long sh[2][kWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sh[0][warp] = tok;
    sh[1][warp] = seq;
  }
  __syncthreads();
  if (warp == 0) {
    tok = warp_sum(lane < kWarps ? sh[0][lane] : 0ull);
    seq = warp_sum(lane < kWarps ? sh[1][lane] : 0ull);
    if (lane == 0) {  // integer atomics: the totals do not depend on the order
      if (tok) atomicAdd(totals, tok);
      if (seq) atomicAdd(totals + 1, seq);
    }
  }
}

// Where the per-token weight w = u_b * inv_norm comes from.
struct Weights {
  const double* row_scale;  // u_b per row, or null: u_const
  double u_const;
  const unsigned long long* totals;  // counted on the device, or null: inv_norm_host
  double inv_norm_host;
  double inv_t;  // 1 / T, to find a token's row
};

// Row of flat index i: a double estimate corrected in exact integer arithmetic (i < 2^53).
__device__ __forceinline__ long long row_of(long long i, long long cols, double inv_cols) {
  long long b = static_cast<long long>(static_cast<double>(i) * inv_cols);
  if (b * cols > i) --b;
  else if ((b + 1) * cols <= i) ++b;
  return b;
}

// One thread's sums. Per step (4 tokens or 1) they gather in f32, then go into the doubles.
struct ThreadSums {
  double loss_u = 0, ratio = 0, approx_kl = 0, kl = 0;
  float ratio_max = 0;
  unsigned clipped = 0, pre_clipped = 0, non_finite = 0;  // < 2^32: a thread sees at most n / 2^19 tokens
};
struct StepSums {
  float loss = 0, ratio = 0, approx_kl = 0, kl = 0;
};

template <KlEstimator K>
__device__ __forceinline__ float token(float ln, float lo, float a, float lr, bool valid, const PolicyLossParams& p,
                                       float w, StepSums& st, ThreadSums& acc) {
  const PolicyLossToken t = policy_loss_token<K>(ln, lo, a, lr, p, GpuExp{});
  const float g = w * t.dloss;
  const bool bad = !(fabsf(t.loss) <= 3.402823466e38f) || !(fabsf(g) <= 3.402823466e38f);
  // Selects, never multiplications by the mask: masked NaN/Inf must not leak.
  st.loss += valid ? t.loss : 0.0f;
  st.ratio += valid ? t.ratio : 0.0f;
  st.approx_kl += valid ? t.approx_kl : 0.0f;
  if (K != KlEstimator::None) st.kl += valid ? t.kl : 0.0f;
  const float rv = valid ? t.ratio : 0.0f;
  acc.ratio_max = rv > acc.ratio_max ? rv : acc.ratio_max;
  acc.clipped += (valid && t.clipped) ? 1u : 0u;
  acc.pre_clipped += (valid && t.pre_clipped) ? 1u : 0u;
  acc.non_finite += (valid && bad) ? 1u : 0u;
  return valid ? g : 0.0f;
}

__device__ __forceinline__ void add_step(ThreadSums& acc, const StepSums& st, double u) {
  acc.loss_u += u * static_cast<double>(st.loss);
  acc.ratio += static_cast<double>(st.ratio);
  acc.approx_kl += static_cast<double>(st.approx_kl);
  acc.kl += static_cast<double>(st.kl);
}

// The fused pass. kVec: 4 tokens per step with 16-byte loads (needs T % 4 == 0 and aligned pointers).
template <bool kMask, bool kAdvRow, KlEstimator K, bool kVec>
__global__ void __launch_bounds__(kThreads)
    policy_loss_kernel(PolicyLossInputs in, PolicyLossParams p, Weights wt, Partial* __restrict__ partials) {
  const long long n = p.rows * p.cols;
  const bool need_row = kAdvRow || wt.row_scale != nullptr;
  double inv_norm = wt.inv_norm_host;
  if (wt.totals) {
    inv_norm = policy_loss_inv_norm(p, static_cast<int64_t>(wt.totals[0]), static_cast<int64_t>(wt.totals[1]));
  }
  ThreadSums acc;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  const long long first = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if constexpr (kVec) {
    const long long groups = n >> 2;
    for (long long q = first; q < groups; q += stride) {
      const long long b = need_row ? row_of(q << 2, p.cols, wt.inv_t) : 0;  // T % 4 == 0: one row per group
      const double u = wt.row_scale ? wt.row_scale[b] : wt.u_const;
      const float w = static_cast<float>(u * inv_norm);
      const float4 x = reinterpret_cast<const float4*>(in.logp_new)[q];
      const float4 y = reinterpret_cast<const float4*>(in.logp_old)[q];
      float4 a;
      if constexpr (kAdvRow) {
        const float s = in.advantages[b];
        a = make_float4(s, s, s, s);
      } else {
        a = reinterpret_cast<const float4*>(in.advantages)[q];
      }
      float4 r = make_float4(0.f, 0.f, 0.f, 0.f);
      if constexpr (K != KlEstimator::None) r = reinterpret_cast<const float4*>(in.logp_ref)[q];
      uchar4 m = make_uchar4(1, 1, 1, 1);
      if constexpr (kMask) m = reinterpret_cast<const uchar4*>(in.mask)[q];
      StepSums st;
      float4 g;
      g.x = token<K>(x.x, y.x, a.x, r.x, m.x != 0, p, w, st, acc);
      g.y = token<K>(x.y, y.y, a.y, r.y, m.y != 0, p, w, st, acc);
      g.z = token<K>(x.z, y.z, a.z, r.z, m.z != 0, p, w, st, acc);
      g.w = token<K>(x.w, y.w, a.w, r.w, m.w != 0, p, w, st, acc);
      reinterpret_cast<float4*>(in.grad)[q] = g;
      add_step(acc, st, u);
    }
  } else {
    for (long long i = first; i < n; i += stride) {
      const long long b = need_row ? row_of(i, p.cols, wt.inv_t) : 0;
      const double u = wt.row_scale ? wt.row_scale[b] : wt.u_const;
      const float w = static_cast<float>(u * inv_norm);
      const float a = kAdvRow ? in.advantages[b] : in.advantages[i];
      const float r = K != KlEstimator::None ? in.logp_ref[i] : 0.0f;
      const bool valid = kMask ? in.mask[i] != 0 : true;
      StepSums st;
      in.grad[i] = token<K>(in.logp_new[i], in.logp_old[i], a, r, valid, p, w, st, acc);
      add_step(acc, st, u);
    }
  }
  Partial part = {acc.loss_u,    acc.ratio,   acc.approx_kl,   acc.kl,
                  acc.ratio_max, acc.clipped, acc.pre_clipped, acc.non_finite};
  __shared__ BlockReduce sh;
  block_reduce(part, sh);
  if (threadIdx.x == 0) partials[blockIdx.x] = part;
}

// One block: partials in a fixed order, then the totals (device-counted or given by the host).
__global__ void __launch_bounds__(kThreads)
    reduce_kernel(const Partial* __restrict__ partials, int count, const unsigned long long* __restrict__ totals,
                  unsigned long long host_tokens, unsigned long long host_rows, DeviceSums* __restrict__ out) {
  Partial acc = {0.0, 0.0, 0.0, 0.0, 0.0f, 0ull, 0ull, 0ull};
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    const Partial& q = partials[i];
    acc.loss_u += q.loss_u;
    acc.ratio += q.ratio;
    acc.approx_kl += q.approx_kl;
    acc.kl += q.kl;
    acc.ratio_max = q.ratio_max > acc.ratio_max ? q.ratio_max : acc.ratio_max;
    acc.clipped += q.clipped;
    acc.pre_clipped += q.pre_clipped;
    acc.non_finite += q.non_finite;
  }
  __shared__ BlockReduce sh;
  block_reduce(acc, sh);
  if (threadIdx.x == 0) {
    out->loss_u = acc.loss_u;
    out->ratio = acc.ratio;
    out->approx_kl = acc.approx_kl;
    out->kl = acc.kl;
    out->ratio_max = acc.ratio_max;
    out->clipped = acc.clipped;
    out->pre_clipped = acc.pre_clipped;
    out->non_finite = acc.non_finite;
    out->valid_tokens = totals ? totals[0] : host_tokens;
    out->valid_rows = totals ? totals[1] : host_rows;
  }
}

template <bool kMask, bool kAdvRow, KlEstimator K>
void launch_main(bool vec, unsigned grid, const PolicyLossInputs& in, const PolicyLossParams& p, const Weights& wt,
                 Partial* partials) {
  if (vec) {
    policy_loss_kernel<kMask, kAdvRow, K, true><<<grid, kThreads, 0, cuda::stream()>>>(in, p, wt, partials);
  } else {
    policy_loss_kernel<kMask, kAdvRow, K, false><<<grid, kThreads, 0, cuda::stream()>>>(in, p, wt, partials);
  }
}

template <bool kMask, bool kAdvRow>
void launch_kl(bool vec, unsigned grid, const PolicyLossInputs& in, const PolicyLossParams& p, const Weights& wt,
               Partial* partials) {
  switch (p.kl) {
    case KlEstimator::K1: launch_main<kMask, kAdvRow, KlEstimator::K1>(vec, grid, in, p, wt, partials); break;
    case KlEstimator::K2: launch_main<kMask, kAdvRow, KlEstimator::K2>(vec, grid, in, p, wt, partials); break;
    case KlEstimator::K3: launch_main<kMask, kAdvRow, KlEstimator::K3>(vec, grid, in, p, wt, partials); break;
    default: launch_main<kMask, kAdvRow, KlEstimator::None>(vec, grid, in, p, wt, partials); break;
  }
}

bool aligned(const void* ptr, uintptr_t bytes) {
  return ptr == nullptr || reinterpret_cast<uintptr_t>(ptr) % bytes == 0;
}

size_t round_up(size_t x) { return (x + 255) / 256 * 256; }

// A pinned host buffer for the read-back, one per thread (async jobs run on several pool threads). Kept for
// the thread's life on purpose: freeing pinned memory at process exit can run after the CUDA runtime is gone.
DeviceSums* pinned_sums() {
  thread_local DeviceSums* p = nullptr;
  thread_local bool tried = false;
  if (!tried) {
    tried = true;
    void* q = nullptr;
    if (cudaMallocHost(&q, sizeof(DeviceSums)) == cudaSuccess) p = static_cast<DeviceSums*>(q);
    else cudaGetLastError();  // fall back to pageable memory
  }
  return p;
}

}  // namespace

PolicyLossResult policy_loss_cuda(const PolicyLossInputs& in, const PolicyLossParams& p) {
  const long long B = p.rows, T = p.cols, n = B * T;
  PolicyLossSums sums;
  if (n == 0) return policy_loss_finalize(sums, p);
  cudaStream_t s = cuda::stream();

  const bool vec = T % 4 == 0 && aligned(in.logp_new, 16) && aligned(in.logp_old, 16) && aligned(in.grad, 16) &&
                   aligned(in.logp_ref, 16) && aligned(in.mask, 4) && (p.adv_per_row || aligned(in.advantages, 16));
  const long long work = vec ? n / 4 : n;
  const unsigned grid = cuda::grid_for(work, kThreads, kMaxBlocks);
  const bool per_row_u = p.aggregation == LossAggregation::SeqMeanTokenMean;
  const bool counted = in.mask != nullptr;

  // One scratch allocation: counts[B], row_scale[B], totals[2], partials[grid], sums.
  const size_t counts_off = 0;
  const size_t scale_off = counts_off + (counted ? round_up(sizeof(unsigned long long) * B) : 0);
  const size_t totals_off = scale_off + (counted && per_row_u ? round_up(sizeof(double) * B) : 0);
  const size_t partials_off = totals_off + round_up(2 * sizeof(unsigned long long));
  const size_t sums_off = partials_off + round_up(sizeof(Partial) * grid);
  const size_t bytes = sums_off + round_up(sizeof(DeviceSums));
  Storage scratch(Device::CUDA, bytes);  // stream-ordered free: safe while kernels are queued
  char* base = static_cast<char*>(scratch.data());
  auto* counts = reinterpret_cast<unsigned long long*>(base + counts_off);
  auto* row_scale = counted && per_row_u ? reinterpret_cast<double*>(base + scale_off) : nullptr;
  auto* totals = reinterpret_cast<unsigned long long*>(base + totals_off);
  auto* partials = reinterpret_cast<Partial*>(base + partials_off);
  auto* dsums = reinterpret_cast<DeviceSums*>(base + sums_off);

  Weights wt;
  wt.row_scale = row_scale;
  wt.u_const = per_row_u ? 1.0 / static_cast<double>(T) : 1.0;
  wt.totals = nullptr;
  wt.inv_norm_host = policy_loss_inv_norm(p, n, B);
  wt.inv_t = 1.0 / static_cast<double>(T);
  if (counted) {
    cuda::check(cudaMemsetAsync(base, 0, totals_off + 2 * sizeof(unsigned long long), s), "policy_loss memset");
    const long long tiles_per_row = (T + kCountTile - 1) / kCountTile;
    const unsigned count_grid = cuda::grid_for(B * tiles_per_row * 32, kThreads, kMaxBlocks);
    row_count_kernel<<<count_grid, kThreads, 0, s>>>(in.mask, B, T, tiles_per_row, counts);
    cuda::check_launch("policy_loss row_count_kernel");
    row_norm_kernel<<<cuda::grid_for(B, kThreads, kMaxBlocks), kThreads, 0, s>>>(counts, B, row_scale, totals);
    cuda::check_launch("policy_loss row_norm_kernel");
    if (!(p.normalizer > 0)) wt.totals = totals;  // else inv_norm_host already holds 1 / normalizer
  }

  if (in.mask) {
    if (p.adv_per_row) launch_kl<true, true>(vec, grid, in, p, wt, partials);
    else launch_kl<true, false>(vec, grid, in, p, wt, partials);
  } else {
    if (p.adv_per_row) launch_kl<false, true>(vec, grid, in, p, wt, partials);
    else launch_kl<false, false>(vec, grid, in, p, wt, partials);
  }
  cuda::check_launch("policy_loss_kernel");
  reduce_kernel<<<1, kThreads, 0, s>>>(partials, static_cast<int>(grid), counted ? totals : nullptr,
                                       static_cast<unsigned long long>(n), static_cast<unsigned long long>(B), dsums);
  cuda::check_launch("policy_loss reduce_kernel");

  DeviceSums h;
  if (DeviceSums* pin = pinned_sums()) {
    cuda::check(cudaMemcpyAsync(pin, dsums, sizeof(h), cudaMemcpyDeviceToHost, s), "policy_loss read-back");
    cuda::check(cudaStreamSynchronize(s), "policy_loss read-back (synchronize)");  // the only synchronisation
    h = *pin;
  } else {
    cuda::copy_device_to_host(&h, dsums, sizeof(h));
  }
  sums.loss_u = h.loss_u;
  sums.ratio = h.ratio;
  sums.approx_kl = h.approx_kl;
  sums.kl = h.kl;
  sums.ratio_max = h.ratio_max;
  sums.clipped = static_cast<int64_t>(h.clipped);
  sums.pre_clipped = static_cast<int64_t>(h.pre_clipped);
  sums.non_finite = static_cast<int64_t>(h.non_finite);
  sums.valid_tokens = static_cast<int64_t>(h.valid_tokens);
  sums.valid_rows = static_cast<int64_t>(h.valid_rows);
  return policy_loss_finalize(sums, p);
}

}  // namespace sr::kernels
