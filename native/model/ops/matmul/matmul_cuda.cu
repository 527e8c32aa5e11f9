// Tensor-core GEMM of the built-in model (contract in matmul.h, tiling in gemm_tiles.h).
#include <mma.h>

#include <algorithm>
#include <type_traits>

#include "core/tensor.h"
#include "cuda/check.h"
#include "model/ops/matmul/gemm_tiles.h"
#include "model/ops/matmul/matmul.h"

namespace sr::model {

namespace {

using namespace nvcuda;
using namespace gemm;

template <bool T>
using ALayout = std::conditional_t<T, wmma::col_major, wmma::row_major>;
template <bool T>
using BLayout = std::conditional_t<T, wmma::col_major, wmma::row_major>;

// 3 blocks per SM: ptxas keeps ~168 registers (unbounded it takes 255 for 2 blocks; at 4 it spills heavily).
template <bool kTA, bool kTB, bool kX3>
__global__ void __launch_bounds__(kThreads, 3)
    gemm_kernel(int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A, int64_t lda,
                const float* __restrict__ B, int64_t ldb, float beta, float* __restrict__ C, int64_t ldc,
                int64_t splits, float* __restrict__ partial) {
  using Tl = Tiles<kTA, kTB>;
  using FA = wmma::fragment<wmma::matrix_a, kFM, kFN, kFK, wmma::precision::tf32, ALayout<kTA>>;
  using FB = wmma::fragment<wmma::matrix_b, kFM, kFN, kFK, wmma::precision::tf32, BLayout<kTB>>;
  using FC = wmma::fragment<wmma::accumulator, kFM, kFN, kFK, float>;
  // 32-byte alignment is what load/store_matrix_sync need; 128 costs nothing.
  __shared__ __align__(128) float As[Tl::kASize];
  __shared__ __align__(128) float Bs[Tl::kBSize];
  __shared__ __align__(128) float Cs[kWarps][kFM * kFN];

  const int t = static_cast<int>(threadIdx.x), w = t / 32, lane = t % 32;
  const int64_t tiles_n = (N + kBN - 1) / kBN;
  const int64_t tiles = ((M + kBM - 1) / kBM) * tiles_n;
  const int64_t k_tiles = (K + kBK - 1) / kBK;

  // splits == 1: each item is a tile over all of K, finished here (alpha, beta). splits > 1: see split_k_range.
  for (int64_t item = blockIdx.x; item < tiles * splits; item += gridDim.x) {
    const int64_t tile = item / splits, split = item % splits;
    int64_t m0, n0, kt0, kt1;
    tile_origin(tile, tiles_n, &m0, &n0);
    split_k_range(split, splits, k_tiles, &kt0, &kt1);
    FC acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    // Register staging: the next K step's loads are in flight while the tensor cores work.
    // One base offset per thread and tile, then constant strides (few live 64-bit registers).
    float ra[kALoads], rb[kBLoads];
    const int64_t a_base = Tl::a_base(t, m0, lda), a_rs = Tl::a_rstride(lda), a_ks = Tl::a_kstride(lda);
    const int64_t b_base = Tl::b_base(t, n0, ldb), b_rs = Tl::b_rstride(ldb), b_ks = Tl::b_kstride(ldb);
    auto load = [&](int64_t kt) {
      const int64_t k0 = kt * kBK;
      const float* pa = A + (a_base + kt * a_ks);
      const float* pb = B + (b_base + kt * b_ks);
#pragma unroll
      for (int r = 0; r < kALoads; ++r) {
        int m, k;
        Tl::a_coord(t, r, &m, &k);
        ra[r] = (m0 + m < M && k0 + k < K) ? __ldg(pa + r * a_rs) : 0.0f;
      }
#pragma unroll
      for (int r = 0; r < kBLoads; ++r) {
        int k, n;
        Tl::b_coord(t, r, &k, &n);
        rb[r] = (k0 + k < K && n0 + n < N) ? __ldg(pb + r * b_rs) : 0.0f;
      }
    };
    if (kt0 < kt1) load(kt0);
    for (int64_t kt = kt0; kt < kt1; ++kt) {
#pragma unroll
      for (int r = 0; r < kALoads; ++r) {
        int m, k;
        Tl::a_coord(t, r, &m, &k);
        As[Tl::a_smem(m, k)] = ra[r];
      }
#pragma unroll
      for (int r = 0; r < kBLoads; ++r) {
        int k, n;
        Tl::b_coord(t, r, &k, &n);
        Bs[Tl::b_smem(k, n)] = rb[r];
      }
      __syncthreads();
      if (kt + 1 < kt1) load(kt + 1);
#pragma unroll
      for (int kk = 0; kk < kBK; kk += kFK) {
        FA a[2];
        FB b[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], As + Tl::a_frag(warp_row(w) + i * kFM, kk), Tl::kLdA);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs + Tl::b_frag(kk, warp_col(w) + j * kFN), Tl::kLdB);
        if (kX3) {
          FA a_lo[2];
          FB b_lo[2];
#pragma unroll
          for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int e = 0; e < a[i].num_elements; ++e) split_tf32(a[i].x[e], &a[i].x[e], &a_lo[i].x[e]);
#pragma unroll
          for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int e = 0; e < b[j].num_elements; ++e) split_tf32(b[j].x[e], &b[j].x[e], &b_lo[j].x[e]);
              // Small terms first; lo * lo (~2^-22 relative) is dropped.
#pragma unroll
          for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 2; ++j) {
              wmma::mma_sync(acc[i][j], a_lo[i], b[j], acc[i][j]);
              wmma::mma_sync(acc[i][j], a[i], b_lo[j], acc[i][j]);
              wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
            }
        } else {
#pragma unroll
          for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int e = 0; e < a[i].num_elements; ++e) a[i].x[e] = to_tf32(a[i].x[e]);
#pragma unroll
          for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int e = 0; e < b[j].num_elements; ++e) b[j].x[e] = to_tf32(b[j].x[e]);
#pragma unroll
          for (int i = 0; i < 2; ++i)
#pragma unroll
            for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
      }
      __syncthreads();  // everyone is done reading As/Bs before the next K step overwrites them
    }

    // Epilogue through the warp's own scratch: bounds, alpha and beta per element.
    float* cs = Cs[w];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        wmma::store_matrix_sync(cs, acc[i][j], kFN, wmma::mem_row_major);
        __syncwarp();
#pragma unroll
        for (int e = 0; e < kEpilogueSteps; ++e) {
          int r, c;
          epilogue_coord(lane, e, &r, &c);
          const int64_t gm = m0 + warp_row(w) + i * kFM + r, gn = n0 + warp_col(w) + j * kFN + c;
          if (gm < M && gn < N) {
            if (partial) {
              partial[partial_index(split, M, N, gm, gn)] = cs[r * kFN + c];
            } else {
              const float v = alpha * cs[r * kFN + c];
              float* out = C + gm * ldc + gn;
              *out = beta == 0.0f ? v : fmaf(beta, *out, v);  // beta 0: C is never read
            }
          }
        }
        __syncwarp();
      }
  }
}

// C = alpha * sum over the splits (in order) + beta * C.
__global__ void splitk_reduce_kernel(const float* __restrict__ partial, int64_t splits, int64_t M, int64_t N,
                                     float alpha, float beta, float* __restrict__ C, int64_t ldc) {
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < M * N;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int64_t sp = 0; sp < splits; ++sp) s += partial[sp * M * N + e];
    const float v = alpha * s;
    float* out = C + (e / N) * ldc + e % N;
    *out = beta == 0.0f ? v : fmaf(beta, *out, v);
  }
}

int multiprocessors() {
  static const int n = [] {
    int v = 0;
    if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) {
      cudaGetLastError();
      v = 0;
    }
    return v;
  }();
  return n;
}

template <bool kTA, bool kTB>
void launch(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
            float beta, float* C, int64_t ldc, MatmulPrecision precision) {
  const int64_t tiles = ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN);
  const int64_t splits = split_count(tiles, (K + kBK - 1) / kBK, multiprocessors());
  Tensor partial;  // stream-ordered pool memory, freed (stream-ordered) on return
  float* part = nullptr;
  if (splits > 1) {
    partial = empty_tensor({splits * M * N}, DType::F32, Device::CUDA);
    part = partial.data<float>();
  }
  const unsigned grid = static_cast<unsigned>(std::min<int64_t>(tiles * splits, 1 << 20));
  cudaStream_t s = cuda::stream();
  if (precision == MatmulPrecision::Tf32x3) {
    gemm_kernel<kTA, kTB, true><<<grid, kThreads, 0, s>>>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, splits, part);
  } else {
    gemm_kernel<kTA, kTB, false><<<grid, kThreads, 0, s>>>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, splits, part);
  }
  cuda::check_launch("gemm_kernel (model matmul)");
  if (splits > 1) {
    splitk_reduce_kernel<<<cuda::grid_for(M * N, 256), 256, 0, s>>>(part, splits, M, N, alpha, beta, C, ldc);
    cuda::check_launch("splitk_reduce_kernel (model matmul)");
  }
}

}  // namespace

void gemm_cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc, MatmulPrecision precision) {
  if (M <= 0 || N <= 0) return;
  if (trans_a) {
    if (trans_b) launch<true, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, precision);
    else launch<true, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, precision);
  } else {
    if (trans_b) launch<false, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, precision);
    else launch<false, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, precision);
  }
}

}  // namespace sr::model
