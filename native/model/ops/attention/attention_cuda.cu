// Causal GQA attention of the built-in model on CUDA (contract in attention.h).
#include <algorithm>
#include <cfloat>
#include <string>

#include "core/error.h"
#include "cuda/check.h"
#include "model/ops/attention/attention.h"
#include "model/ops/reduce_cuda.cuh"

namespace sr::model {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxHeadDim = 2048;
constexpr long long kMaxGrid = 1 << 20;

using cuda_reduce::warp_sum;

__device__ __forceinline__ float block_max(float x, float* red) { return cuda_reduce::block_max<kThreads>(x, red); }
__device__ __forceinline__ float block_sum(float x, float* red) { return cuda_reduce::block_sum<kThreads>(x, red); }

// Split of the head's columns over the block: `parts` groups of hd threads each take every
// parts-th key (or query row); their partial sums meet in shared memory.
__device__ __forceinline__ int parts_for(int hd) { return hd >= kThreads ? 1 : kThreads / hd; }

// dst[t] = scale * sum_{j < count} w[j * w_stride] * base[j * stride + t], t < hd.
// red: parts * hd floats. Ends with a barrier (red and dst may be reused right after).
__device__ void weighted_rows(const float* w, int64_t w_stride, const float* base, int64_t stride, int64_t count,
                              int hd, float scale, float* dst, float* red) {
  const int parts = parts_for(hd);
  for (int idx = threadIdx.x; idx < parts * hd; idx += kThreads) {
    const int part = idx / hd, t = idx % hd;
    float acc = 0.0f;
    for (int64_t j = part; j < count; j += parts) acc = fmaf(w[j * w_stride], base[j * stride + t], acc);
    red[idx] = acc;
  }
  __syncthreads();
  for (int t = threadIdx.x; t < hd; t += kThreads) {
    float s = 0.0f;
    for (int p = 0; p < parts; ++p) s += red[p * hd + t];
    dst[t] = scale * s;
  }
  __syncthreads();
}

struct Row {
  AttnSeq sq;
  int64_t r, i, vis;
  int h;
};

__device__ __forceinline__ Row query_row(const AttnSeq* seqs, const int32_t* row_seq, int64_t item, int heads) {
  Row x;
  x.r = item / heads;
  x.h = static_cast<int>(item % heads);
  x.sq = seqs[row_seq[x.r]];
  x.i = x.r - x.sq.q_row;
  x.vis = min(static_cast<int64_t>(x.sq.m), static_cast<int64_t>(x.sq.m - x.sq.n) + x.i + 1);  // keys j < vis
  return x;
}

// Dynamic shared memory: vec[hd] | red[2 * parts * hd] (parts * hd <= max(kThreads, hd)).
size_t smem_bytes(int hd) { return sizeof(float) * (hd + 2 * static_cast<size_t>(std::max(kThreads, hd))); }

__global__ void __launch_bounds__(kThreads)
    attn_forward_kernel(const AttnSeq* __restrict__ seqs, const int32_t* __restrict__ row_seq, int64_t rows, int heads,
                        int group, int hd, int64_t q_stride, int64_t kv_stride, float scale, const float* q,
                        const float* k, const float* v, float* out, float* probs) {
  extern __shared__ float smem[];
  __shared__ float red_s[kWarps];
  float* qs = smem;
  float* red = smem + hd;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t item = blockIdx.x; item < rows * heads; item += gridDim.x) {
    const Row x = query_row(seqs, row_seq, item, heads);
    const int g = x.h / group;
    const float* kb = k + x.sq.kv_off + static_cast<int64_t>(g) * hd;
    const float* vb = v + x.sq.kv_off + static_cast<int64_t>(g) * hd;
    float* p = probs + x.sq.probs_off + (static_cast<int64_t>(x.h) * x.sq.n + x.i) * x.sq.m;
    for (int t = threadIdx.x; t < hd; t += kThreads) qs[t] = q[x.r * q_stride + static_cast<int64_t>(x.h) * hd + t];
    __syncthreads();
    // Scores, a warp per key (its lanes split the head's columns: coalesced key reads).
    float mx = -FLT_MAX;
    for (int64_t j = warp; j < x.vis; j += kWarps) {
      float d = 0.0f;
      for (int t = lane; t < hd; t += 32) d = fmaf(qs[t], kb[j * kv_stride + t], d);
      const float sc = scale * warp_sum(d);
      if (lane == 0) p[j] = sc;
      mx = fmaxf(mx, sc);
    }
    mx = block_max(mx, red_s);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < x.vis; j += kThreads) {
      const float e = expf(p[j] - mx);
      p[j] = e;
      sum += e;
    }
    const float inv = 1.0f / block_sum(sum, red_s);
    for (int64_t j = threadIdx.x; j < x.sq.m; j += kThreads) p[j] = j < x.vis ? p[j] * inv : 0.0f;
    __syncthreads();
    weighted_rows(p, 1, vb, kv_stride, x.vis, hd, 1.0f, out + x.r * q_stride + static_cast<int64_t>(x.h) * hd, red);
  }
}

// dP = dO V^T, dS = P (dP - rowsum(P dP)) into ds (probs' layout), dQ = scale dS K.
__global__ void __launch_bounds__(kThreads)
    attn_backward_q_kernel(const AttnSeq* __restrict__ seqs, const int32_t* __restrict__ row_seq, int64_t rows,
                           int heads, int group, int hd, int64_t q_stride, int64_t kv_stride, float scale,
                           const float* k, const float* v, const float* probs, const float* dout, float* dq,
                           float* ds) {
  extern __shared__ float smem[];
  __shared__ float red_s[kWarps];
  float* dos = smem;
  float* red = smem + hd;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t item = blockIdx.x; item < rows * heads; item += gridDim.x) {
    const Row x = query_row(seqs, row_seq, item, heads);
    const int g = x.h / group;
    const int64_t qo = x.r * q_stride + static_cast<int64_t>(x.h) * hd;
    const float* kb = k + x.sq.kv_off + static_cast<int64_t>(g) * hd;
    const float* vb = v + x.sq.kv_off + static_cast<int64_t>(g) * hd;
    const int64_t po = x.sq.probs_off + (static_cast<int64_t>(x.h) * x.sq.n + x.i) * x.sq.m;
    const float* p = probs + po;
    float* s = ds + po;
    for (int t = threadIdx.x; t < hd; t += kThreads) dos[t] = dout[qo + t];
    __syncthreads();
    for (int64_t j = warp; j < x.vis; j += kWarps) {
      float d = 0.0f;
      for (int t = lane; t < hd; t += 32) d = fmaf(dos[t], vb[j * kv_stride + t], d);
      d = warp_sum(d);
      if (lane == 0) s[j] = d;
    }
    float dot = 0.0f;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < x.vis; j += kThreads) dot = fmaf(p[j], s[j], dot);
    dot = block_sum(dot, red_s);
    for (int64_t j = threadIdx.x; j < x.sq.m; j += kThreads) s[j] = j < x.vis ? p[j] * (s[j] - dot) : 0.0f;
    __syncthreads();
    weighted_rows(s, 1, kb, kv_stride, x.vis, hd, scale, dq + qo, red);
  }
}

// dK_j += scale sum_h sum_i dS[h, i, j] Q_h[i],  dV_j += sum_h sum_i P[h, i, j] dO_h[i]
// over the heads h of kv head g and the query rows i that see key j (n == m: i >= j).
__global__ void __launch_bounds__(kThreads)
    attn_backward_kv_kernel(const AttnSeq* __restrict__ seqs, const int32_t* __restrict__ row_seq, int64_t rows,
                            int kv_heads, int group, int hd, int64_t q_stride, int64_t kv_stride, float scale,
                            const float* q, const float* probs, const float* dout, const float* ds, float* dk,
                            float* dv) {
  extern __shared__ float smem[];
  const int parts = parts_for(hd);
  float* red_k = smem + hd;
  float* red_v = red_k + parts * hd;
  for (int64_t item = blockIdx.x; item < rows * kv_heads; item += gridDim.x) {
    const int64_t r = item / kv_heads;
    const int g = static_cast<int>(item % kv_heads);
    const AttnSeq sq = seqs[row_seq[r]];
    const int64_t j = r - sq.q_row;  // this key's index (key rows are the query rows: n == m)
    const int64_t first = max(static_cast<int64_t>(0), j - (sq.m - sq.n));
    const int64_t nm = static_cast<int64_t>(sq.n) * sq.m;
    for (int idx = threadIdx.x; idx < parts * hd; idx += kThreads) {
      const int part = idx / hd, t = idx % hd;
      float ak = 0.0f, av = 0.0f;
      for (int hh = 0; hh < group; ++hh) {
        const int h = g * group + hh;
        const int64_t col = sq.probs_off + h * nm + j;  // [h, i, j] = col + i * m
        const int64_t qo = sq.q_row * q_stride + static_cast<int64_t>(h) * hd + t;
        for (int64_t i = first + part; i < sq.n; i += parts) {
          const int64_t qi = qo + i * q_stride;
          ak = fmaf(ds[col + i * sq.m], q[qi], ak);
          av = fmaf(probs[col + i * sq.m], dout[qi], av);
        }
      }
      red_k[idx] = ak;
      red_v[idx] = av;
    }
    __syncthreads();
    const int64_t ko = sq.kv_off + j * kv_stride + static_cast<int64_t>(g) * hd;
    for (int t = threadIdx.x; t < hd; t += kThreads) {
      float sk = 0.0f, sv = 0.0f;
      for (int p = 0; p < parts; ++p) {
        sk += red_k[p * hd + t];
        sv += red_v[p * hd + t];
      }
      dk[ko + t] += scale * sk;
      dv[ko + t] += sv;
    }
    __syncthreads();
  }
}

__global__ void kv_write_kernel(const float* __restrict__ k, const float* __restrict__ v, float* __restrict__ ck,
                                float* __restrict__ cv, const int64_t* __restrict__ slots,
                                const int32_t* __restrict__ pos, int64_t rows, int64_t cap, int64_t kvd) {
  const int64_t n = rows * kvd;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = e / kvd, c = e % kvd;
    const int64_t dst = (slots[r] * cap + pos[r]) * kvd + c;
    ck[dst] = k[e];
    cv[dst] = v[e];
  }
}

void check_head_dim(int hd) {
  if (hd > kMaxHeadDim)
    throw_range("the CUDA attention supports head sizes up to " + std::to_string(kMaxHeadDim) + ", got " +
                std::to_string(hd) + " (dModel / nHeads)");
}

unsigned grid_items(int64_t items) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(items, kMaxGrid)));
}

}  // namespace

void attention_forward_cuda(const AttnBatch& b, const float* q, const float* k, const float* v, float* out,
                            float* probs) {
  if (b.rows <= 0) return;
  check_head_dim(b.hd);
  attn_forward_kernel<<<grid_items(b.rows * b.heads), kThreads, smem_bytes(b.hd), cuda::stream()>>>(
      b.seqs_dev, b.row_seq_dev, b.rows, b.heads, b.heads / b.kv_heads, b.hd, b.q_stride, b.kv_stride, b.scale, q, k, v,
      out, probs);
  cuda::check_launch("attn_forward_kernel (model attention)");
}

void attention_backward_cuda(const AttnBatch& b, const float* q, const float* k, const float* v, const float* probs,
                             const float* dout, float* dq, float* dk, float* dv, float* scratch) {
  if (b.rows <= 0) return;
  check_head_dim(b.hd);
  const int group = b.heads / b.kv_heads;
  cudaStream_t s = cuda::stream();
  attn_backward_q_kernel<<<grid_items(b.rows * b.heads), kThreads, smem_bytes(b.hd), s>>>(
      b.seqs_dev, b.row_seq_dev, b.rows, b.heads, group, b.hd, b.q_stride, b.kv_stride, b.scale, k, v, probs, dout, dq,
      scratch);
  cuda::check_launch("attn_backward_q_kernel (model attention)");
  attn_backward_kv_kernel<<<grid_items(b.rows * b.kv_heads), kThreads, smem_bytes(b.hd), s>>>(
      b.seqs_dev, b.row_seq_dev, b.rows, b.kv_heads, group, b.hd, b.q_stride, b.kv_stride, b.scale, q, probs, dout,
      scratch, dk, dv);
  cuda::check_launch("attn_backward_kv_kernel (model attention)");
}

void kv_cache_write_cuda(const float* k, const float* v, float* cache_k, float* cache_v, const int64_t* slots,
                         const int32_t* pos, int64_t rows, int64_t cap, int64_t kvd) {
  if (rows <= 0 || kvd <= 0) return;
  kv_write_kernel<<<cuda::grid_for(rows * kvd, 256), 256, 0, cuda::stream()>>>(k, v, cache_k, cache_v, slots, pos, rows,
                                                                               cap, kvd);
  cuda::check_launch("kv_write_kernel (model KV cache)");
}

}  // namespace sr::model
