// Host emulation of the CUDA GEMM of the built-in model (native/model/ops/matmul/matmul_cuda.cu):
// runs the kernel's tiling and index arithmetic from gemm_tiles.h, thread by thread and warp by
// warp, with the WMMA calls replaced by their documented semantics:
//   load_matrix_sync(frag, p, ldm): element (i, j) of the fragment is p[i * ldm + j] (row_major)
//                                   or p[j * ldm + i] (col_major); p 32-byte aligned, ldm % 4 == 0
//   mma_sync(d, a, b, c):           d = a * b + c (16 x 8 times 8 x 16, f32 accumulation)
//   store_matrix_sync(p, c, ldm, mem_row_major): p[i * ldm + j] = c(i, j)
// and checks, for every transposition, precision and many awkward sizes: results against a
// float64 product, every global read inside its array, every shared-memory slot written
// before it is read (NaN-filled otherwise), fragment pointers aligned, every output of a tile
// written once, nothing outside C's M x N region touched, beta = 0 never reading C; with and
// without split-K (the partial buffer and its ordered reduction).
// Built and run by test/model/gemm-tiles.test.ts (g++ -std=c++17 -I native). Prints "ok" or
// the first failure (exit 1). The tensor-core instructions themselves are not emulated.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "model/ops/matmul/gemm_tiles.h"

using namespace sr::model::gemm;

namespace {

int failures = 0;
void fail(const std::string& msg) {
  if (failures++ < 10) std::printf("FAIL: %s\n", msg.c_str());
}
#define EXPECT(cond, msg)   \
  do {                      \
    if (!(cond)) fail(msg); \
  } while (0)

// Fragment of rows x cols read from shared memory the way load_matrix_sync does.
void load_frag(const std::vector<float>& smem, int origin, int ldm, bool col_major, int rows, int cols, float* out,
               const char* what) {
  EXPECT((origin * 4) % 32 == 0, std::string(what) + ": fragment pointer not 32-byte aligned");
  EXPECT(ldm % 4 == 0, std::string(what) + ": ldm not a multiple of 4 floats");
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      const int idx = origin + (col_major ? j * ldm + i : i * ldm + j);
      if (idx < 0 || idx >= static_cast<int>(smem.size())) {
        fail(std::string(what) + ": fragment read outside shared memory");
        out[i * cols + j] = 0;
        continue;
      }
      const float v = smem[idx];
      EXPECT(!std::isnan(v), std::string(what) + ": fragment reads a shared slot nobody wrote");
      out[i * cols + j] = v;
    }
}

struct Problem {
  bool ta, tb, x3;
  int64_t M, N, K, lda, ldb, ldc;
  float alpha, beta;
};

template <bool TA, bool TB>
void emulate(const Problem& p, int64_t splits, const std::vector<float>& A, const std::vector<float>& B,
             std::vector<float>& C) {
  using Tl = Tiles<TA, TB>;
  if (p.M <= 0 || p.N <= 0) return;
  const int64_t tiles_n = (p.N + kBN - 1) / kBN, tiles = ((p.M + kBM - 1) / kBM) * tiles_n;
  const int64_t k_tiles = (p.K + kBK - 1) / kBK;
  // The partial buffer, NaN-filled: the reduction must read only slots the splits wrote.
  std::vector<float> partial(splits > 1 ? static_cast<size_t>(splits * p.M * p.N) : 0, NAN);
  std::vector<int> k_hits(static_cast<size_t>(tiles * std::max<int64_t>(k_tiles, 1)), 0);
  for (int64_t item = 0; item < tiles * splits; ++item) {
    const int64_t tile = item / splits, split = item % splits;
    int64_t m0, n0, kt0, kt1;
    tile_origin(tile, tiles_n, &m0, &n0);
    split_k_range(split, splits, k_tiles, &kt0, &kt1);
    EXPECT(0 <= kt0 && kt0 <= kt1 && kt1 <= k_tiles, "split K range out of [0, k_tiles]");
    for (int64_t kt = kt0; kt < kt1; ++kt) k_hits[tile * std::max<int64_t>(k_tiles, 1) + kt]++;
    static float acc[kWarps][2][2][kFM * kFN];
    for (auto& w : acc)
      for (auto& i : w)
        for (auto& j : i)
          for (float& v : j) v = 0.0f;
    for (int64_t kt = kt0; kt < kt1; ++kt) {
      const int64_t k0 = kt * kBK;
      std::vector<float> As(Tl::kASize, NAN), Bs(Tl::kBSize, NAN);
      std::vector<int> a_hits(Tl::kASize, 0), b_hits(Tl::kBSize, 0);
      for (int t = 0; t < kThreads; ++t) {
        for (int r = 0; r < kALoads; ++r) {
          int m, k;
          Tl::a_coord(t, r, &m, &k);
          EXPECT(m >= 0 && m < kBM && k >= 0 && k < kBK, "A tile coordinate out of the tile");
          const int64_t off = Tl::a_base(t, m0, p.lda) + r * Tl::a_rstride(p.lda) + kt * Tl::a_kstride(p.lda);
          EXPECT(off == Tl::a_global(m0 + m, k0 + k, p.lda), "A: incremental offset != a_global");
          float v = 0.0f;
          if (m0 + m < p.M && k0 + k < p.K) {
            if (off < 0 || off >= static_cast<int64_t>(A.size())) fail("A read out of bounds");
            else v = A[off];
          }
          const int s = Tl::a_smem(m, k);
          EXPECT(s >= 0 && s < Tl::kASize, "A smem index out of range");
          As[s] = v;
          a_hits[s]++;
        }
        for (int r = 0; r < kBLoads; ++r) {
          int k, n;
          Tl::b_coord(t, r, &k, &n);
          EXPECT(k >= 0 && k < kBK && n >= 0 && n < kBN, "B tile coordinate out of the tile");
          const int64_t off = Tl::b_base(t, n0, p.ldb) + r * Tl::b_rstride(p.ldb) + kt * Tl::b_kstride(p.ldb);
          EXPECT(off == Tl::b_global(k0 + k, n0 + n, p.ldb), "B: incremental offset != b_global");
          float v = 0.0f;
          if (k0 + k < p.K && n0 + n < p.N) {
            if (off < 0 || off >= static_cast<int64_t>(B.size())) fail("B read out of bounds");
            else v = B[off];
          }
          const int s = Tl::b_smem(k, n);
          EXPECT(s >= 0 && s < Tl::kBSize, "B smem index out of range");
          Bs[s] = v;
          b_hits[s]++;
        }
      }
      for (int m = 0; m < kBM; ++m)
        for (int k = 0; k < kBK; ++k) EXPECT(a_hits[Tl::a_smem(m, k)] == 1, "A tile element not written exactly once");
      for (int k = 0; k < kBK; ++k)
        for (int n = 0; n < kBN; ++n) EXPECT(b_hits[Tl::b_smem(k, n)] == 1, "B tile element not written exactly once");
      // Warps: fragments through the layouts the kernel declares (A col_major iff transposed, same for B).
      for (int w = 0; w < kWarps; ++w)
        for (int kk = 0; kk < kBK; kk += kFK) {
          float a[2][kFM * kFK], b[2][kFK * kFN];
          for (int i = 0; i < 2; ++i)
            load_frag(As, Tl::a_frag(warp_row(w) + i * kFM, kk), Tl::kLdA, TA, kFM, kFK, a[i], "A");
          for (int j = 0; j < 2; ++j)
            load_frag(Bs, Tl::b_frag(kk, warp_col(w) + j * kFN), Tl::kLdB, TB, kFK, kFN, b[j], "B");
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j)
              for (int r = 0; r < kFM; ++r)
                for (int c = 0; c < kFN; ++c) {
                  float s = acc[w][i][j][r * kFN + c];
                  for (int q = 0; q < kFK; ++q) {
                    const float x = a[i][r * kFK + q], y = b[j][q * kFN + c];
                    if (p.x3) {
                      float xh, xl, yh, yl;
                      split_tf32(x, &xh, &xl);
                      split_tf32(y, &yh, &yl);
                      s += xl * yh;
                      s += xh * yl;
                      s += xh * yh;
                    } else {
                      s += to_tf32(x) * to_tf32(y);
                    }
                  }
                  acc[w][i][j][r * kFN + c] = s;
                }
        }
    }
    // Epilogue: staged row-major (ld 16), lanes write through epilogue_coord.
    std::vector<int> hits(kBM * kBN, 0);
    for (int w = 0; w < kWarps; ++w)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const float* cs = acc[w][i][j];
          for (int lane = 0; lane < 32; ++lane)
            for (int e = 0; e < kEpilogueSteps; ++e) {
              int r, c;
              epilogue_coord(lane, e, &r, &c);
              EXPECT(r >= 0 && r < kFM && c >= 0 && c < kFN, "epilogue coordinate outside the fragment");
              const int tr = warp_row(w) + i * kFM + r, tc = warp_col(w) + j * kFN + c;
              hits[tr * kBN + tc]++;
              const int64_t gm = m0 + tr, gn = n0 + tc;
              if (gm < p.M && gn < p.N) {
                if (splits > 1) {
                  const int64_t idx = partial_index(split, p.M, p.N, gm, gn);
                  if (idx < 0 || idx >= static_cast<int64_t>(partial.size())) fail("partial index out of range");
                  else partial[idx] = cs[r * kFN + c];
                } else {
                  const float v = p.alpha * cs[r * kFN + c];
                  float& out = C[gm * p.ldc + gn];
                  out = p.beta == 0.0f ? v : std::fma(p.beta, out, v);
                }
              }
            }
        }
    for (int x : hits) EXPECT(x == 1, "an output of the block tile is not written exactly once");
  }
  for (int64_t t = 0; t < tiles * k_tiles; ++t) EXPECT(k_hits[t] == 1, "a K step of a tile is not summed exactly once");
  if (splits > 1) {
    // splitk_reduce_kernel: element e = m * N + n, splits added in order.
    for (int64_t e = 0; e < p.M * p.N; ++e) {
      float s = 0.0f;
      for (int64_t sp = 0; sp < splits; ++sp) {
        const float v = partial[sp * p.M * p.N + e];
        EXPECT(!std::isnan(v), "split-K reduction reads a partial slot no split wrote");
        s += v;
      }
      const float v = p.alpha * s;
      float& out = C[(e / p.N) * p.ldc + e % p.N];
      out = p.beta == 0.0f ? v : std::fma(p.beta, out, v);
    }
  }
}

// Returns the largest error relative to the error budget (<= 1 passes), and the largest raw error.
void run(const Problem& p, int64_t splits, std::mt19937& gen, double* worst_ratio, double* worst_rel) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t a_rows = p.ta ? p.K : p.M, b_rows = p.tb ? p.N : p.K;
  // One extra row of slack is NOT given: reads past the last row would be caught.
  std::vector<float> A(static_cast<size_t>(std::max<int64_t>(a_rows * p.lda, 0))),
      B(static_cast<size_t>(std::max<int64_t>(b_rows * p.ldb, 0)));
  for (float& v : A) v = nd(gen);
  for (float& v : B) v = nd(gen);
  const float sentinel = 12345.0f;
  std::vector<float> C(static_cast<size_t>(p.M * p.ldc), sentinel), C0;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) C[i * p.ldc + j] = p.beta == 0.0f ? NAN : nd(gen);
  C0 = C;
  if (p.ta && p.tb) emulate<true, true>(p, splits, A, B, C);
  if (p.ta && !p.tb) emulate<true, false>(p, splits, A, B, C);
  if (!p.ta && p.tb) emulate<false, true>(p, splits, A, B, C);
  if (!p.ta && !p.tb) emulate<false, false>(p, splits, A, B, C);
  const double u = p.x3 ? std::ldexp(1.0, -20) : std::ldexp(1.0, -10);
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t j = p.N; j < p.ldc; ++j) EXPECT(C[i * p.ldc + j] == sentinel, "wrote outside C's M x N region");
    for (int64_t j = 0; j < p.N; ++j) {
      double ref = 0.0, mag = 0.0;
      for (int64_t k = 0; k < p.K; ++k) {
        const double x = A[p.ta ? k * p.lda + i : i * p.lda + k], y = B[p.tb ? j * p.ldb + k : k * p.ldb + j];
        ref += x * y;
        mag += std::fabs(x * y);
      }
      ref *= p.alpha;
      mag *= std::fabs(p.alpha);
      if (p.beta != 0.0f) {
        ref += static_cast<double>(p.beta) * C0[i * p.ldc + j];
        mag += std::fabs(p.beta * C0[i * p.ldc + j]);
      }
      const double err = std::fabs(C[i * p.ldc + j] - ref);
      const double budget = (u + (p.K + 4) * std::ldexp(1.0, -23)) * mag + 1e-30;
      if (!(err <= budget)) {
        char msg[256];
        std::snprintf(msg, sizeof msg,
                      "ta=%d tb=%d x3=%d splits=%lld M=%lld N=%lld K=%lld: C[%lld,%lld] = %g, expected %g (budget %g)",
                      p.ta, p.tb, p.x3, static_cast<long long>(splits), static_cast<long long>(p.M),
                      static_cast<long long>(p.N), static_cast<long long>(p.K), static_cast<long long>(i),
                      static_cast<long long>(j), C[i * p.ldc + j], ref, budget);
        fail(msg);
      }
      *worst_ratio = std::max(*worst_ratio, err / budget);
      if (mag > 0) *worst_rel = std::max(*worst_rel, err / mag);
    }
  }
}

}  // namespace

int main() {
  std::mt19937 gen(7);
  const int64_t sizes[] = {1, 7, 16, 33, 64, 65, 130};
  const int64_t ks[] = {0, 1, 5, 31, 32, 33, 129, 300};
  double worst_tf32 = 0, worst_x3 = 0, rel_tf32 = 0, rel_x3 = 0;
  int cases = 0, auto_split_cases = 0;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int x3 = 0; x3 < 2; ++x3)
        for (int64_t M : sizes)
          for (int64_t N : {int64_t(1), int64_t(19), int64_t(70)})
            for (int64_t K : ks) {
              if ((M * 7 + N * 3 + K) % 3 == 1 && M > 16) continue;  // thin the grid a little; every size still appears
              const int64_t pad = (M + N + K) % 2 ? 3 : 0;           // strided rows too
              Problem p{ta == 1, tb == 1, x3 == 1, M, N, K, 0, 0, 0, 1.0f, 0.0f};
              p.lda = (ta ? M : K) + pad;
              p.ldb = (tb ? K : N) + pad;
              p.ldc = N + pad;
              if (p.lda == 0) p.lda = 1;
              if (p.ldb == 0) p.ldb = 1;
              const int variant = static_cast<int>((M + 2 * N + 3 * K) % 3);
              if (variant == 1) p.alpha = 0.5f, p.beta = 1.0f;
              if (variant == 2) p.alpha = -2.0f, p.beta = 0.25f;
              // Split-K as the launcher picks it on a 132-SM GPU, and forced splits (3: may leave an empty split).
              const int64_t tiles = ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN), k_tiles = (K + kBK - 1) / kBK;
              const int64_t auto_splits = split_count(tiles, k_tiles, 132);
              std::vector<int64_t> split_list = {1, 3};
              if (auto_splits != 1 && auto_splits != 3) split_list.push_back(auto_splits);
              for (int64_t splits : split_list) {
                run(p, splits, gen, x3 ? &worst_x3 : &worst_tf32, x3 ? &rel_x3 : &rel_tf32);
                ++cases;
              }
              if (auto_splits > 1) ++auto_split_cases;
            }
  EXPECT(auto_split_cases > 0, "no case where the launcher would split K");
  // The split must really buy accuracy (otherwise 3xTF32 silently degraded to TF32).
  EXPECT(rel_x3 * 100 < rel_tf32, "3xTF32 is not much more accurate than TF32");
  std::printf("%d cases; worst error / budget: tf32 %.3f, 3xtf32 %.3f; worst error / sum|ab|: tf32 %.2e, 3xtf32 %.2e\n",
              cases, worst_tf32, worst_x3, rel_tf32, rel_x3);
  if (failures) {
    std::printf("%d failures\n", failures);
    return 1;
  }
  std::printf("ok\n");
  return 0;
}
