// Tiling and index arithmetic of the CUDA GEMM (matmul_cuda.cu), written as
// plain host+device functions so that a host program can run the very same
// arithmetic with an emulation of WMMA (test/model/native/gemm_tiles_test.cpp,
// run by test/model/gemm-tiles.test.ts): which global element each thread loads,
// where it lands in shared memory, which fragment pointer and leading dimension
// each warp hands to wmma::load_matrix_sync, and which output element each lane
// writes. Only the tensor-core instructions themselves are not emulated.
//
// Block tile 64 (M) x 64 (N), K in steps of 32; 128 threads = 4 warps in a 2 x 2
// grid, each owning 32 x 32 outputs = 2 x 2 WMMA fragments of 16 x 16 (k = 8).
//
// Shared-memory layout follows the operand's contiguous dimension, so that the
// global loads are coalesced AND the shared stores contiguous; the WMMA fragment
// layout absorbs the transposition:
//   A not transposed (A[m*lda + k]): As[m][k]  -> matrix_a row_major, ld kBK + 4
//   A transposed     (A[k*lda + m]): As[k][m]  -> matrix_a col_major, ld kBM + 4
//   B not transposed (B[k*ldb + n]): Bs[k][n]  -> matrix_b row_major, ld kBN + 4
//   B transposed     (B[n*ldb + k]): Bs[n][k]  -> matrix_b col_major, ld kBK + 4
// The +4 padding keeps every leading dimension a multiple of 4 floats (16
// bytes, a WMMA requirement) and every fragment pointer 32-byte aligned (fragment
// origins are multiples of 16 rows / 8 k); gemm_tiles_test checks both.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <mma.h>
#define SR_GEMM_HD __host__ __device__ __forceinline__
#else
#define SR_GEMM_HD inline
#endif

namespace sr::model::gemm {

constexpr int kBM = 64, kBN = 64, kBK = 32;
constexpr int kThreads = 128, kWarps = 4;
constexpr int kWM = 32, kWN = 32;           // warp tile
constexpr int kFM = 16, kFN = 16, kFK = 8;  // WMMA TF32 fragment shape
constexpr int kPad = 4;
constexpr int kALoads = kBM * kBK / kThreads;  // elements of A each thread moves per K step
constexpr int kBLoads = kBK * kBN / kThreads;
static_assert(kBM * kBK % kThreads == 0 && kBK * kBN % kThreads == 0, "tiles must split evenly over the threads");
static_assert(kWarps * kWM * kWN == kBM * kBN, "the warps must cover the block tile");

template <bool TA, bool TB>
struct Tiles {
  static constexpr int kLdA = TA ? kBM + kPad : kBK + kPad;
  static constexpr int kASize = TA ? kBK * kLdA : kBM * kLdA;
  static constexpr int kLdB = TB ? kBK + kPad : kBN + kPad;
  static constexpr int kBSize = TB ? kBN * kLdB : kBK * kLdB;

  // Shared-memory index of element (m, k) of the A tile / (k, n) of the B tile.
  SR_GEMM_HD static int a_smem(int m, int k) { return TA ? k * kLdA + m : m * kLdA + k; }
  SR_GEMM_HD static int b_smem(int k, int n) { return TB ? n * kLdB + k : k * kLdB + n; }

  // The tile seen as (outer, inner) rows with inner the operand's contiguous dimension
  // (A: k, or m when transposed; B: n, or k when transposed). Load r of thread t takes
  // inner = t % inner size and outer = t / inner size + r * step: consecutive threads read
  // consecutive addresses (coalesced), and a thread's loads are one pointer plus r strides.
  static constexpr int kAInner = TA ? kBM : kBK;
  static constexpr int kAStep = kThreads / kAInner;
  static constexpr int kBInner = TB ? kBK : kBN;
  static constexpr int kBStep = kThreads / kBInner;
  static_assert(kThreads % kAInner == 0 && kThreads % kBInner == 0, "a pass of the block must cover whole rows");

  // Tile coordinates of load r (0 <= r < kALoads / kBLoads) of thread t.
  SR_GEMM_HD static void a_coord(int t, int r, int* m, int* k) {
    const int outer = t / kAInner + r * kAStep, inner = t % kAInner;
    *m = TA ? inner : outer;
    *k = TA ? outer : inner;
  }
  SR_GEMM_HD static void b_coord(int t, int r, int* k, int* n) {
    const int outer = t / kBInner + r * kBStep, inner = t % kBInner;
    *k = TB ? inner : outer;
    *n = TB ? outer : inner;
  }

  // Offsets of op(A)(m, k) and op(B)(k, n) in the row-major inputs (64-bit).
  SR_GEMM_HD static int64_t a_global(int64_t m, int64_t k, int64_t lda) { return TA ? k * lda + m : m * lda + k; }
  SR_GEMM_HD static int64_t b_global(int64_t k, int64_t n, int64_t ldb) { return TB ? n * ldb + k : k * ldb + n; }

  // The same offsets as the kernel computes them, incrementally: load r of thread t in K step kt
  // of the tile at (m0, n0) reads a_base + r * a_rstride + kt * a_kstride (and likewise for B).
  // gemm_tiles_test checks that this equals a_global of a_coord for every t, r, kt.
  SR_GEMM_HD static int64_t a_base(int t, int64_t m0, int64_t lda) {
    const int64_t outer = t / kAInner, inner = t % kAInner;
    return TA ? outer * lda + m0 + inner : (m0 + outer) * lda + inner;
  }
  SR_GEMM_HD static int64_t a_rstride(int64_t lda) { return kAStep * lda; }
  SR_GEMM_HD static int64_t a_kstride(int64_t lda) { return TA ? kBK * lda : kBK; }
  SR_GEMM_HD static int64_t b_base(int t, int64_t n0, int64_t ldb) {
    const int64_t outer = t / kBInner, inner = t % kBInner;
    return TB ? (n0 + outer) * ldb + inner : outer * ldb + n0 + inner;
  }
  SR_GEMM_HD static int64_t b_rstride(int64_t ldb) { return kBStep * ldb; }
  SR_GEMM_HD static int64_t b_kstride(int64_t ldb) { return TB ? kBK : kBK * ldb; }

  // Fragment origins handed to load_matrix_sync: the tile element (row0, k0) / (k0, col0),
  // whichever layout the fragment reads it with.
  SR_GEMM_HD static int a_frag(int row0, int k0) { return a_smem(row0, k0); }
  SR_GEMM_HD static int b_frag(int k0, int col0) { return b_smem(k0, col0); }
};

// The 32 x 32 sub-tile of warp w inside the block tile.
SR_GEMM_HD int warp_row(int w) { return (w / 2) * kWM; }
SR_GEMM_HD int warp_col(int w) { return (w % 2) * kWN; }

// Block tile `tile` of the grid-stride loop: row-major over (M tiles, N tiles), so that
// neighbouring blocks share their A rows in L2.
SR_GEMM_HD void tile_origin(int64_t tile, int64_t tiles_n, int64_t* m0, int64_t* n0) {
  *m0 = (tile / tiles_n) * kBM;
  *n0 = (tile % tiles_n) * kBN;
}

// Split-K (products with few output tiles and a long K, like the weight gradients of a small model): block item
// `item` of the grid-stride loop is (tile = item / splits, split = item % splits); split s sums K steps
// [kt0, kt1) of the tile into partial[s][M][N] (no alpha/beta), and a second kernel adds the splits in order
// (deterministic on a given GPU: the split count depends on its number of SMs).
SR_GEMM_HD void split_k_range(int64_t split, int64_t splits, int64_t k_tiles, int64_t* kt0, int64_t* kt1) {
  const int64_t per = (k_tiles + splits - 1) / splits;
  *kt0 = split * per;
  *kt1 = *kt0 + per < k_tiles ? *kt0 + per : k_tiles;
  if (*kt0 > k_tiles) *kt0 = k_tiles;
}
// How many splits the launcher uses: only when the output tiles cannot fill the `sms` multiprocessors and K
// is long; at most 16, each of 4 or more K steps, about 2 items per SM, and never an empty split.
inline int64_t split_count(int64_t tiles, int64_t k_tiles, int64_t sms) {
  if (sms <= 0 || tiles >= sms || k_tiles < 8) return 1;
  int64_t splits = k_tiles / 4;
  const int64_t fill = (2 * sms + tiles - 1) / tiles;
  if (fill < splits) splits = fill;
  if (splits > 16) splits = 16;
  if (splits < 2) return 1;
  const int64_t per = (k_tiles + splits - 1) / splits;
  return (k_tiles + per - 1) / per;
}
SR_GEMM_HD int64_t partial_index(int64_t split, int64_t M, int64_t N, int64_t m, int64_t n) {
  return (split * M + m) * N + n;
}

// Epilogue: a 16 x 16 accumulator is staged row-major (ld 16) in the warp's
// shared scratch; lane writes its elements e = 0..7 at (r, c) -> two full rows
// of 16 consecutive outputs per step of the warp.
constexpr int kEpilogueSteps = kFM * kFN / 32;
SR_GEMM_HD void epilogue_coord(int lane, int e, int* r, int* c) {
  const int i = e * 32 + lane;
  *r = i / kFN;
  *c = i % kFN;
}

// fp32 -> tf32 (10-bit mantissa), round to nearest with ties away from zero:
// the device instruction cvt.rna.tf32.f32, emulated bit for bit on the host.
SR_GEMM_HD float to_tf32(float x) {
#if defined(__CUDA_ARCH__)
  return nvcuda::wmma::__float_to_tf32(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) {  // inf and NaN pass through
    u += 0x1000u;
    u &= 0xffffe000u;
  }
  float y;
  std::memcpy(&y, &u, 4);
  return y;
#endif
}

// 3xTF32: x ~= hi + lo with both parts exact in TF32 (x - hi is exact in f32). For an
// infinite or NaN x, lo = 0 so that hi alone carries it (inf - inf would make a NaN).
SR_GEMM_HD void split_tf32(float x, float* hi, float* lo) {
  *hi = to_tf32(x);
  const float d = x - *hi;
  *lo = d == d ? to_tf32(d) : 0.0f;
}

}  // namespace sr::model::gemm
