#include <cuda_bf16.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstring>

#include "core/tensor.h"
#include "cuda/check.h"
#include "cuda/runtime.h"
#include "kernels/token_logprobs/token_logprobs.h"

namespace sr::kernels {

namespace {

// One block per row (grid-stride over rows). 256 threads x 4 outstanding
// 16-byte loads each keeps ~16 KiB per block in flight, enough to stream.
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 4;
constexpr long long kMaxGrid = 1 << 20;
constexpr float kNegMax = -FLT_MAX;  // initial maximum: finite, so l - m is never (-inf) - (-inf)
constexpr float kLog2e = 1.4426950408889634f;

// The row logic is also callable on the host, so that it can be checked there
// against the CPU kernel without a GPU (the thread index is a parameter).
#define SR_HD __host__ __device__ __forceinline__

SR_HD float as_float(unsigned u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}

SR_HD unsigned as_uint(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  unsigned u;
  memcpy(&u, &f, 4);
  return u;
#endif
}

SR_HD float nan_f() { return as_float(0x7fc00000u); }
SR_HD float inf_f() { return as_float(0x7f800000u); }

// 2^x; ex2(-inf) = 0, NaN stays NaN; denormal results flush to 0 (irrelevant next to s >= 1).
SR_HD float ex2(float x) {
#ifdef __CUDA_ARCH__
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
#else
  return exp2f(x);
#endif
}

template <bool kStream>
SR_HD uint4 load16(const uint4* p) {
#ifdef __CUDA_ARCH__
  if (kStream) return __ldcs(p);  // last use: evict first
  return __ldg(p);
#else
  return *p;
#endif
}

SR_HD void store16(uint4* p, const uint4& v) {
#ifdef __CUDA_ARCH__
  __stcs(p, v);  // streaming: keep L2 for the logits
#else
  *p = v;
#endif
}

template <class T>
SR_HD T load1(const T* p) {
#ifdef __CUDA_ARCH__
  return __ldg(p);
#else
  return *p;
#endif
}

template <bool kBf16>
struct Elem;

template <>
struct Elem<false> {
  static constexpr int kSize = 4;
  static constexpr int kVec = 4;  // per 16-byte load
  SR_HD static float load(const char* row, long long j) { return load1(reinterpret_cast<const float*>(row) + j); }
  SR_HD static void store(char* row, long long j, float x) { reinterpret_cast<float*>(row)[j] = x; }
  SR_HD static void unpack(const uint4& r, float (&f)[kVec]) {
    f[0] = as_float(r.x);
    f[1] = as_float(r.y);
    f[2] = as_float(r.z);
    f[3] = as_float(r.w);
  }
  SR_HD static uint4 pack(const float (&f)[kVec]) {
    return make_uint4(as_uint(f[0]), as_uint(f[1]), as_uint(f[2]), as_uint(f[3]));
  }
};

template <>
struct Elem<true> {
  static constexpr int kSize = 2;
  static constexpr int kVec = 8;
  SR_HD static float load(const char* row, long long j) {
    return as_float(static_cast<unsigned>(load1(reinterpret_cast<const unsigned short*>(row) + j)) << 16);
  }
  SR_HD static void store(char* row, long long j, float x) {
    reinterpret_cast<unsigned short*>(row)[j] = __bfloat16_as_ushort(__float2bfloat16_rn(x));
  }
  SR_HD static void unpack(const uint4& r, float (&f)[kVec]) {
    const unsigned w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      f[2 * i] = as_float(w[i] << 16);  // the lower address is the low half
      f[2 * i + 1] = as_float(w[i] & 0xffff0000u);
    }
  }
  SR_HD static unsigned pack2(float lo, float hi) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);  // round to nearest even, NaN kept
    unsigned u;
    memcpy(&u, &h, 4);
    return u;
  }
  SR_HD static uint4 pack(const float (&f)[kVec]) {
    return make_uint4(pack2(f[0], f[1]), pack2(f[2], f[3]), pack2(f[4], f[5]), pack2(f[6], f[7]));
  }
};

// Online log-sum-exp state, raw logit units: m = running max, s = sum 2^((l - m) c),
// t = sum 2^((l - m) c) (l - m), with c = log2(e) / T.
struct Stats {
  float m, s, t;
};

template <bool kEnt>
SR_HD void rescale(Stats& st, float mx, float c) {
  const float delta = st.m - mx;  // < 0
  const float a = ex2(delta * c);
  // a == 0 or s == 0: the old terms vanish (and 0 * inf must not make a NaN).
  if (kEnt) st.t = (st.s > 0.0f && a > 0.0f) ? a * fmaf(st.s, delta, st.t) : 0.0f;
  st.s *= a;
  st.m = mx;
}

template <bool kEnt, int K>
SR_HD void accumulate(Stats& st, const float (&f)[K], float c) {
  float mx = f[0];
#pragma unroll
  for (int k = 1; k < K; ++k) mx = fmaxf(mx, f[k]);  // ignores NaN: s catches it below
  if (mx > st.m) rescale<kEnt>(st, mx, c);
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const float d = f[k] - st.m;  // <= 0, -inf when masked, NaN for NaN
    const float e = ex2(d * c);
    st.s += e;
    if (kEnt) st.t = fmaf(e, fmaxf(d, kNegMax), st.t);  // e == 0 where d == -inf
  }
}

template <bool kEnt>
SR_HD void merge(Stats& a, const Stats& b, float c) {
  const float M = fmaxf(a.m, b.m);
  const float da = a.m - M, db = b.m - M;
  const float ea = ex2(da * c), eb = ex2(db * c);
  if (kEnt) {
    const float ta = (a.s > 0.0f && ea > 0.0f) ? ea * fmaf(a.s, da, a.t) : 0.0f;
    const float tb = (b.s > 0.0f && eb > 0.0f) ? eb * fmaf(b.s, db, b.t) : 0.0f;
    a.t = ta + tb;
  }
  a.s = a.s * ea + b.s * eb;
  a.m = M;
}

template <bool kEnt>
__device__ __forceinline__ void warp_merge(Stats& st, float c) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    Stats o;
    o.m = __shfl_xor_sync(0xffffffffu, st.m, off);
    o.s = __shfl_xor_sync(0xffffffffu, st.s, off);
    o.t = kEnt ? __shfl_xor_sync(0xffffffffu, st.t, off) : 0.0f;
    merge<kEnt>(st, o, c);
  }
}

// The row's statistics, returned to every thread of the block.
template <bool kEnt>
__device__ Stats block_merge(Stats st, float c, Stats* smem) {
  warp_merge<kEnt>(st, c);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();  // everyone has read smem[0] of the previous row
  if (lane == 0) smem[warp] = st;
  __syncthreads();
  if (warp == 0) {
    st = lane < kWarps ? smem[lane] : Stats{kNegMax, 0.0f, 0.0f};
    warp_merge<kEnt>(st, c);
    if (lane == 0) smem[0] = st;
  }
  __syncthreads();
  return smem[0];
}

// Elements before the row's first 16-byte boundary (rows need not be aligned when v % kVec != 0).
template <class E>
SR_HD long long head_count(const char* row, long long v) {
  const unsigned mis = static_cast<unsigned>(reinterpret_cast<uintptr_t>(row) & 15u) / E::kSize;
  const long long head = mis ? E::kVec - mis : 0;
  return head < v ? head : v;
}

// This thread's share of the row: scalar head, 16-byte vector body, scalar tail.
template <bool kBf16, bool kEnt, bool kStream>
SR_HD Stats thread_stats(const char* row, long long v, float c, int tid) {
  using E = Elem<kBf16>;
  Stats st{kNegMax, 0.0f, 0.0f};
  const long long head = head_count<E>(row, v);
  for (long long j = tid; j < head; j += kThreads) {
    const float f[1] = {E::load(row, j)};
    accumulate<kEnt>(st, f, c);
  }
  const uint4* vp = reinterpret_cast<const uint4*>(row + head * E::kSize);
  const long long nvec = (v - head) / E::kVec;
  long long k = tid;
  for (; k + (kUnroll - 1) * kThreads < nvec; k += kUnroll * kThreads) {
    uint4 r[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) r[u] = load16<kStream>(vp + k + u * kThreads);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float f[E::kVec];
      E::unpack(r[u], f);
      accumulate<kEnt>(st, f, c);
    }
  }
  for (; k < nvec; k += kThreads) {
    float f[E::kVec];
    E::unpack(load16<kStream>(vp + k), f);
    accumulate<kEnt>(st, f, c);
  }
  for (long long j = head + nvec * E::kVec + tid; j < v; j += kThreads) {
    const float f[1] = {E::load(row, j)};
    accumulate<kEnt>(st, f, c);
  }
  return st;
}

SR_HD bool stats_ok(const Stats& st) { return st.s > 0.0f && st.m != inf_f(); }

// A row's outputs from its statistics and target logit (NaN when not ok).
template <bool kEnt>
SR_HD void finish_row(const Stats& st, float xt, bool ok, float inv_t, float* lp, float* h) {
  *lp = *h = nan_f();
  if (!ok) return;
  const float ln_s = logf(st.s);
  *lp = (xt - st.m) * inv_t - ln_s;
  if (kEnt) *h = ln_s - (st.t * inv_t) / st.s;
}

// status[0]: ~(first bad-token row), status[1]: non-finite rows, status[2]: ~(first non-finite row); 0 = none.
__device__ __forceinline__ void flag_row(unsigned long long* status, long long row, bool bad_token) {
  if (bad_token) {
    atomicMax(&status[0], ~static_cast<unsigned long long>(row));
  } else {
    atomicAdd(&status[1], 1ull);
    atomicMax(&status[2], ~static_cast<unsigned long long>(row));
  }
}

template <bool kBf16, bool kEnt>
__global__ void __launch_bounds__(kThreads)
    token_logprobs_kernel(const char* __restrict__ logits, const int32_t* __restrict__ tokens, long long n, long long v,
                          float inv_t, float c, float* __restrict__ logprobs, float* __restrict__ entropy,
                          unsigned long long* __restrict__ status) {
  using E = Elem<kBf16>;
  __shared__ Stats smem[kWarps];
  for (long long row = blockIdx.x; row < n; row += gridDim.x) {
    const char* rp = logits + row * v * E::kSize;
    // Thread 0 fetches the target logit first: its latency hides behind the row's loads.
    bool tok_ok = true;
    float xt = 0.0f;
    if (threadIdx.x == 0) {
      const int tok = __ldg(tokens + row);
      tok_ok = tok >= 0 && tok < v;
      if (tok_ok) xt = E::load(rp, tok);
    }
    const Stats st = block_merge<kEnt>(thread_stats<kBf16, kEnt, true>(rp, v, c, threadIdx.x), c, smem);
    if (threadIdx.x == 0) {
      const bool ok = tok_ok && stats_ok(st);
      float lp, h;
      finish_row<kEnt>(st, xt, ok, inv_t, &lp, &h);
      if (!ok) flag_row(status, row, !tok_ok);
      logprobs[row] = lp;
      if (kEnt) entropy[row] = h;
    }
  }
}

// What every thread needs to write one row of the gradient.
struct GradRow {
  float m, inv_t, c, ln_s, log2_s, H, g_lp, g_h;
  bool ok;
};

// Row constants of the gradient; ok = false gives a NaN row.
template <bool kEnt>
SR_HD GradRow grad_row(const Stats& st, float inv_t, float c, float g_lp, float g_h, bool ok) {
  GradRow g;
  g.m = st.m;
  g.inv_t = inv_t;
  g.c = c;
  g.ln_s = logf(st.s);
  g.log2_s = log2f(st.s);
  g.H = kEnt ? g.ln_s - (st.t * inv_t) / st.s : 0.0f;
  g.g_lp = g_lp;
  g.g_h = g_h;
  g.ok = ok;
  return g;
}

template <bool kEnt>
SR_HD float grad_elem(float x, bool is_tok, const GradRow& g) {
  const float d = x - g.m;
  const float lpj = fmaf(d, g.inv_t, -g.ln_s);   // log p_j
  const float p = ex2(fmaf(d, g.c, -g.log2_s));  // p_j
  float r = kEnt ? -p * fmaf(g.g_h, lpj + g.H, g.g_lp) : -p * g.g_lp;
  r = p > 0.0f ? r : 0.0f;  // masked (p == 0): the limit is 0, avoids 0 * inf
  r = (is_tok ? r + g.g_lp : r) * g.inv_t;
  return g.ok ? r : nan_f();
}

template <bool kBf16, bool kEnt>
SR_HD void write_grad_row(const char* row, char* out, long long v, long long tok, bool vec, const GradRow& g, int tid) {
  using E = Elem<kBf16>;
  // vec: input and output rows share their alignment, so one head serves both.
  const long long head = vec ? head_count<E>(row, v) : v;
  for (long long j = tid; j < head; j += kThreads) E::store(out, j, grad_elem<kEnt>(E::load(row, j), j == tok, g));
  const uint4* vp = reinterpret_cast<const uint4*>(row + head * E::kSize);
  uint4* op = reinterpret_cast<uint4*>(out + head * E::kSize);
  const long long nvec = (v - head) / E::kVec;
  const long long tok_rel = tok - head;  // token position relative to the vector body
  long long k = tid;
  for (; k + (kUnroll - 1) * kThreads < nvec; k += kUnroll * kThreads) {
    uint4 r[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) r[u] = load16<true>(vp + k + u * kThreads);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const long long kk = k + u * kThreads;
      const long long rel = tok_rel - kk * E::kVec;
      const int tk = (rel >= 0 && rel < E::kVec) ? static_cast<int>(rel) : -1;
      float f[E::kVec];
      E::unpack(r[u], f);
#pragma unroll
      for (int e = 0; e < E::kVec; ++e) f[e] = grad_elem<kEnt>(f[e], e == tk, g);
      store16(op + kk, E::pack(f));
    }
  }
  for (; k < nvec; k += kThreads) {
    const long long rel = tok_rel - k * E::kVec;
    const int tk = (rel >= 0 && rel < E::kVec) ? static_cast<int>(rel) : -1;
    float f[E::kVec];
    E::unpack(load16<true>(vp + k), f);
#pragma unroll
    for (int e = 0; e < E::kVec; ++e) f[e] = grad_elem<kEnt>(f[e], e == tk, g);
    store16(op + k, E::pack(f));
  }
  for (long long j = head + nvec * E::kVec + tid; j < v; j += kThreads)
    E::store(out, j, grad_elem<kEnt>(E::load(row, j), j == tok, g));
}

template <bool kBf16, bool kEnt>
__global__ void __launch_bounds__(kThreads)
    token_logprobs_backward_kernel(const char* __restrict__ logits, const int32_t* __restrict__ tokens,
                                   const float* __restrict__ grad_lp, const float* __restrict__ grad_h, long long n,
                                   long long v, float inv_t, float c, bool vec, char* __restrict__ grad,
                                   unsigned long long* __restrict__ status) {
  using E = Elem<kBf16>;
  __shared__ Stats smem[kWarps];
  for (long long row = blockIdx.x; row < n; row += gridDim.x) {
    const long long offset = row * v * E::kSize;
    const int tok = __ldg(tokens + row);
    const float g_lp = __ldg(grad_lp + row);
    const float g_h = kEnt ? __ldg(grad_h + row) : 0.0f;
    // First pass with ordinary caching, so that the second (streaming) pass may hit L2.
    const Stats st = block_merge<kEnt>(thread_stats<kBf16, kEnt, false>(logits + offset, v, c, threadIdx.x), c, smem);
    const bool tok_ok = tok >= 0 && tok < v;
    const bool ok = tok_ok && stats_ok(st) && isfinite(g_lp) && isfinite(g_h);
    if (threadIdx.x == 0 && !ok) flag_row(status, row, !tok_ok);
    const GradRow g = grad_row<kEnt>(st, inv_t, c, g_lp, g_h, ok);
    write_grad_row<kBf16, kEnt>(logits + offset, grad + offset, v, tok_ok ? tok : -1, vec, g, threadIdx.x);
  }
}

TokenLogprobsStatus read_status(const unsigned long long* d_status, const int32_t* tokens) {
  unsigned long long h[3];
  cuda::copy_device_to_host(h, d_status, sizeof(h));  // the one synchronisation
  TokenLogprobsStatus st;
  if (h[0]) {
    st.bad_token_row = static_cast<int64_t>(~h[0]);
    cuda::copy_device_to_host(&st.bad_token_value, tokens + st.bad_token_row, 4);
  }
  st.nonfinite_rows = static_cast<int64_t>(h[1]);
  if (h[2]) st.first_nonfinite_row = static_cast<int64_t>(~h[2]);
  return st;
}

Tensor new_status() {
  Tensor t = empty_tensor({6}, DType::I32, Device::CUDA);  // 3 x u64
  cuda::check(cudaMemsetAsync(t.storage->data(), 0, t.bytes(), cuda::stream()), "token_logprobs (clear status)");
  return t;
}

unsigned grid_rows(int64_t n) { return static_cast<unsigned>(std::min<long long>(n, kMaxGrid)); }

}  // namespace

TokenLogprobsStatus token_logprobs_cuda(const void* logits, bool bf16, const int32_t* tokens, int64_t n, int64_t v,
                                        float inv_temperature, float* logprobs, float* entropy) {
  if (n == 0) return {};
  Tensor status = new_status();
  auto* st = status.data<unsigned long long>();
  const char* lg = static_cast<const char*>(logits);
  const float c = inv_temperature * kLog2e;
  const unsigned grid = grid_rows(n);
  cudaStream_t s = cuda::stream();
  if (bf16) {
    if (entropy) {
      token_logprobs_kernel<true, true>
          <<<grid, kThreads, 0, s>>>(lg, tokens, n, v, inv_temperature, c, logprobs, entropy, st);
    } else {
      token_logprobs_kernel<true, false>
          <<<grid, kThreads, 0, s>>>(lg, tokens, n, v, inv_temperature, c, logprobs, entropy, st);
    }
  } else {
    if (entropy) {
      token_logprobs_kernel<false, true>
          <<<grid, kThreads, 0, s>>>(lg, tokens, n, v, inv_temperature, c, logprobs, entropy, st);
    } else {
      token_logprobs_kernel<false, false>
          <<<grid, kThreads, 0, s>>>(lg, tokens, n, v, inv_temperature, c, logprobs, entropy, st);
    }
  }
  cuda::check_launch("token_logprobs_kernel");
  return read_status(st, tokens);
}

TokenLogprobsStatus token_logprobs_backward_cuda(const void* logits, bool bf16, const int32_t* tokens,
                                                 const float* grad_logprobs, const float* grad_entropy, int64_t n,
                                                 int64_t v, float inv_temperature, void* grad_logits) {
  if (n == 0) return {};
  Tensor status = new_status();
  auto* st = status.data<unsigned long long>();
  const char* lg = static_cast<const char*>(logits);
  char* out = static_cast<char*>(grad_logits);
  const bool vec = (reinterpret_cast<uintptr_t>(lg) & 15u) == (reinterpret_cast<uintptr_t>(out) & 15u);
  const float c = inv_temperature * kLog2e;
  const unsigned grid = grid_rows(n);
  cudaStream_t s = cuda::stream();
  const float* gh = grad_entropy;
  if (bf16) {
    if (gh) {
      token_logprobs_backward_kernel<true, true>
          <<<grid, kThreads, 0, s>>>(lg, tokens, grad_logprobs, gh, n, v, inv_temperature, c, vec, out, st);
    } else {
      token_logprobs_backward_kernel<true, false>
          <<<grid, kThreads, 0, s>>>(lg, tokens, grad_logprobs, gh, n, v, inv_temperature, c, vec, out, st);
    }
  } else {
    if (gh) {
      token_logprobs_backward_kernel<false, true>
          <<<grid, kThreads, 0, s>>>(lg, tokens, grad_logprobs, gh, n, v, inv_temperature, c, vec, out, st);
    } else {
      token_logprobs_backward_kernel<false, false>
          <<<grid, kThreads, 0, s>>>(lg, tokens, grad_logprobs, gh, n, v, inv_temperature, c, vec, out, st);
    }
  }
  cuda::check_launch("token_logprobs_backward_kernel");
  return read_status(st, tokens);
}

}  // namespace sr::kernels
