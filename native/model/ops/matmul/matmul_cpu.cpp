// CPU matrix products: the built-in GEMM driver (packing, blocking, threads over
// the core's pool) and the engine choice (built-in, or OpenBLAS when a
// libopenblas can be loaded at run time). Contract: matmul.h.
#include "model/ops/matmul/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"
#include "model/ops/matmul/gemm_cpu.h"
#include "model/ops/matmul/openblas_loader.h"

namespace sr::model {

using cpugemm::Kernel;

namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t ceil_div(int64_t v, int64_t m) { return (v + m - 1) / m; }

// Blocks of fewer multiply-adds than this are not worth a thread: waking the pool, packing and the tile
// edges would cost more than they save (a product below it runs on the calling thread).
constexpr double kMinBlockMacs = 1 << 18;

// C = beta * C (beta == 0 writes zeros without reading C): K = 0 or alpha = 0.
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) {
      std::memset(row, 0, sizeof(float) * N);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

// op(A)[i0 + i, p0 + k] for i < rows, k < kc into mr-row slivers Ap[s][k][i], zero rows up to mr.
void pack_a(bool ta, const float* A, int64_t lda, int64_t i0, int64_t rows, int64_t p0, int64_t kc, int mr, float* ap) {
  for (int64_t s = 0; s < rows; s += mr) {
    const int64_t h = std::min<int64_t>(mr, rows - s);
    float* dst = ap + s * kc;
    if (!ta) {  // row i of op(A) is contiguous in k
      for (int64_t i = 0; i < h; ++i) {
        const float* src = A + (i0 + s + i) * lda + p0;
        for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = src[k];
      }
    } else {  // op(A) = A^T: column k of op(A) is contiguous in i
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (p0 + k) * lda + i0 + s;
        for (int64_t i = 0; i < h; ++i) dst[k * mr + i] = src[i];
      }
    }
    if (h < mr)
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t i = h; i < mr; ++i) dst[k * mr + i] = 0.0f;
  }
}

// op(B)[p0 + k, j0 + j] for k < kc, j < cols into nr-column slivers Bp[s][k][j], zero columns up to nr.
void pack_b(bool tb, const float* B, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t cols, int nr, float* bp) {
  for (int64_t s = 0; s < cols; s += nr) {
    const int64_t w = std::min<int64_t>(nr, cols - s);
    float* dst = bp + s * kc;
    if (!tb) {  // row k of op(B) is contiguous in j
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = B + (p0 + k) * ldb + j0 + s;
        float* d = dst + k * nr;
        for (int64_t j = 0; j < w; ++j) d[j] = src[j];
        for (int64_t j = w; j < nr; ++j) d[j] = 0.0f;
      }
    } else {  // op(B) = B^T: column j of op(B) is contiguous in k
      for (int64_t j = 0; j < w; ++j) {
        const float* src = B + (j0 + s + j) * ldb + p0;
        for (int64_t k = 0; k < kc; ++k) dst[k * nr + j] = src[k];
      }
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = w; j < nr; ++j) dst[k * nr + j] = 0.0f;
    }
  }
}

// Packing space of the calling thread (grows, never shrinks; each pool thread has its own).
float* scratch(size_t floats) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats) buf.resize(floats);
  return buf.data();
}

const Kernel* kernel_named(const std::string& name) {
  if (name == "avx512") return cpugemm::avx512_kernel();
  if (name == "avx2") return cpugemm::avx2_kernel();
  if (name == "generic") return &cpugemm::generic_kernel();
  return nullptr;
}

const Kernel& best_kernel() {
  if (const Kernel* k = cpugemm::avx512_kernel()) return *k;
  if (const Kernel* k = cpugemm::avx2_kernel()) return *k;
  return cpugemm::generic_kernel();
}

// The process-wide choice, set from the environment once and by set_cpu_gemm*.
struct Choice {
  std::atomic<const Kernel*> kernel{nullptr};
  std::atomic<bool> openblas{false};
  std::string note;  // why SR_GEMM / SR_GEMM_KERNEL from the environment was not followed
};

Choice& choice() {
  static Choice* c = [] {
    auto* ch = new Choice();
    ch->kernel = &best_kernel();
    if (const char* env = std::getenv("SR_GEMM_KERNEL"); env && *env && std::string(env) != "auto") {
      if (const Kernel* k = kernel_named(env)) {
        ch->kernel = k;
      } else {
        ch->note = std::string("SR_GEMM_KERNEL=") + env + " is not available on this CPU or not a kernel name";
      }
    }
    if (const char* env = std::getenv("SR_GEMM"); env && *env) {
      const std::string e(env);
      if (e == "openblas") {
        const openblas::Library& lib = openblas::library();
        if (lib.sgemm) {
          ch->openblas = true;
        } else {
          ch->note = "SR_GEMM=openblas but OpenBLAS could not be loaded (" + lib.reason + "); using the built-in GEMM";
        }
      } else if (e != "builtin") {
        ch->note = "SR_GEMM=" + e + " is not 'builtin' or 'openblas'; using the built-in GEMM";
      }
    }
    return ch;
  }();
  return *c;
}

// Rows of C [r0, r1), columns [j0, j1) computed directly from A and B, without packing: for products with
// few rows (decoding: one query per sequence in attention, a few sequences in the projections), where
// packing op(B) would cost as much as the product. Each element is one fixed-order sum over k.
SR_CPU_MULTIVERSION
void direct_rows(bool trans_a, bool trans_b, int64_t r0, int64_t r1, int64_t j0, int64_t j1, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  constexpr int64_t kMaxK = 1024;  // A's row copied contiguous, K in chunks of this
  float a_row[kMaxK];
  for (int64_t i = r0; i < r1; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = j0; j < j1; ++j) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
    for (int64_t p0 = 0; p0 < K; p0 += kMaxK) {
      const int64_t kc = std::min(kMaxK, K - p0);
      for (int64_t k = 0; k < kc; ++k) a_row[k] = alpha * (trans_a ? A[(p0 + k) * lda + i] : A[i * lda + p0 + k]);
      if (trans_b) {  // C[i, j] += dot(a_row, B[j, p0:p0+kc])
        for (int64_t j = j0; j < j1; ++j) {
          const float* b = B + j * ldb + p0;
          float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
          for (int64_t k = 0; k < kc; ++k) dot += a_row[k] * b[k];
          c[j] += dot;
        }
      } else {  // C[i, :] += a_row[k] * B[k, :]
        for (int64_t k = 0; k < kc; ++k) {
          const float a = a_row[k];
          const float* b = B + (p0 + k) * ldb;
#pragma omp simd
          for (int64_t j = j0; j < j1; ++j) c[j] += a * b[j];
        }
      }
    }
  }
}

// Products with at most this many rows take the direct path.
constexpr int64_t kDirectMaxRows = 4;

}  // namespace

void gemm_builtin(const Kernel& kr, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (M <= kDirectMaxRows) {
    // Columns in fixed chunks (never K: every element is the same sum whatever the thread count).
    constexpr int64_t kCols = 64;
    const int64_t chunks = static_cast<double>(M) * N * K < kMinBlockMacs ? 1 : (N + kCols - 1) / kCols;
    const int64_t width = chunks == 1 ? N : kCols;
    auto run = [&](int64_t c) {
      direct_rows(trans_a, trans_b, 0, M, c * width, std::min(N, (c + 1) * width), K, alpha, A, lda, B, ldb, beta, C,
                  ldc);
    };
    if (chunks == 1) {
      run(0);
    } else {
      parallel_for(chunks, run);
    }
    return;
  }
  const int mr = kr.mr, nr = kr.nr;
  const int64_t kc_max = std::min(kr.kc, K);
  // Blocks of C: at most kr.mc x kr.nb, and small enough that every thread gets a few (the blocking
  // does not change any result, see gemm_cpu.h).
  int64_t mc = std::min(kr.mc, round_up(M, mr)), nb = std::min(kr.nb, round_up(N, nr));
  const double macs = static_cast<double>(M) * N * K;
  const int64_t want =
      std::clamp<int64_t>(static_cast<int64_t>(macs / kMinBlockMacs), 1, 4 * static_cast<int64_t>(num_threads()));
  while (ceil_div(M, mc) * ceil_div(N, nb) < want) {
    if (mc > 2 * mr && (mc >= nb || nb <= 2 * nr)) {
      mc = round_up(mc / 2, mr);
    } else if (nb > 2 * nr) {
      nb = round_up(nb / 2, nr);
    } else {
      break;
    }
  }
  const int64_t m_blocks = ceil_div(M, mc), n_blocks = ceil_div(N, nb);
  auto block = [&](int64_t b) {
    const int64_t i0 = (b / n_blocks) * mc, j0 = (b % n_blocks) * nb;
    const int64_t rows = std::min(mc, M - i0), cols = std::min(nb, N - j0);
    float* ap = scratch(static_cast<size_t>(round_up(rows, mr) * kc_max + round_up(cols, nr) * kc_max));
    float* bp = ap + round_up(rows, mr) * kc_max;
    for (int64_t p0 = 0; p0 < K; p0 += kc_max) {
      const int64_t kc = std::min(kc_max, K - p0);
      const float b_eff = p0 == 0 ? beta : 1.0f;  // later K blocks add to what the first wrote
      pack_a(trans_a, A, lda, i0, rows, p0, kc, mr, ap);
      pack_b(trans_b, B, ldb, p0, kc, j0, cols, nr, bp);
      for (int64_t jr = 0; jr < cols; jr += nr) {
        for (int64_t ir = 0; ir < rows; ir += mr) {
          kr.fn(kc, ap + ir * kc, bp + jr * kc, C + (i0 + ir) * ldc + j0 + jr, ldc, alpha, b_eff,
                std::min<int64_t>(mr, rows - ir), std::min<int64_t>(nr, cols - jr));
        }
      }
    }
  };
  const int64_t blocks = m_blocks * n_blocks;
  if (blocks == 1) {
    block(0);
  } else {
    parallel_for(blocks, block);
  }
}

void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
              const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  Choice& ch = choice();
  if (ch.openblas.load(std::memory_order_relaxed) && M > 0 && N > 0 && K > 0) {
    openblas::sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm_builtin(*ch.kernel.load(std::memory_order_relaxed), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
               ldc);
}

const Kernel* cpu_gemm_kernel(const std::string& name) { return name == "auto" ? &best_kernel() : kernel_named(name); }

void set_cpu_gemm(const std::string& engine, const std::string& kernel) {
  Choice& ch = choice();
  const Kernel* k = cpu_gemm_kernel(kernel);
  if (!k) throw std::invalid_argument("kernel '" + kernel + "' is not available on this CPU");
  if (engine == "openblas") {
    const openblas::Library& lib = openblas::library();
    if (!lib.sgemm) throw std::invalid_argument("OpenBLAS could not be loaded: " + lib.reason);
  } else if (engine != "builtin") {
    throw std::invalid_argument("engine must be 'builtin' or 'openblas'");
  }
  ch.kernel = k;
  ch.openblas = engine == "openblas";
}

CpuGemmInfo cpu_gemm_info() {
  Choice& ch = choice();
  CpuGemmInfo info;
  info.engine = ch.openblas ? "openblas" : "builtin";
  info.kernel = ch.kernel.load()->name;
  info.best_kernel = best_kernel().name;
  for (const char* name : {"avx512", "avx2", "generic"})
    if (kernel_named(name)) info.kernels.push_back(name);
  const openblas::Library& lib = openblas::library();
  info.openblas_available = lib.sgemm != nullptr;
  info.openblas_path = lib.path;
  info.openblas_reason = lib.reason;
  info.note = ch.note;
  return info;
}

}  // namespace sr::model
