#include "model/ops/matmul/openblas_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>

#include "core/parallel.h"

namespace sr::model::openblas {
namespace {

// CBLAS enumerations (cblas.h), stated here because no BLAS header is needed to build.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

Library load() {
  Library lib;
  std::string tried;
  const char* env = std::getenv("SR_OPENBLAS_PATH");
  const char* candidates[] = {env && *env ? env : nullptr, "libopenblas.so.0", "libopenblas.so"};
  for (const char* name : candidates) {
    if (!name) continue;
    void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      tried += std::string(tried.empty() ? "" : "; ") + dlerror();
      continue;
    }
    auto sgemm = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    if (!sgemm) {
      tried += std::string(tried.empty() ? "" : "; ") + name + " has no cblas_sgemm";
      dlclose(h);
      continue;
    }
    using SetThreads = void (*)(int);
    if (auto set_threads = reinterpret_cast<SetThreads>(dlsym(h, "openblas_set_num_threads")))
      set_threads(num_threads());
    lib.sgemm = sgemm;
    Dl_info info{};
    lib.path = dladdr(reinterpret_cast<void*>(sgemm), &info) && info.dli_fname ? info.dli_fname : name;
    return lib;  // the handle stays open for the life of the process
  }
  lib.reason = tried.empty() ? "no candidate library" : tried;
  return lib;
}

}  // namespace

const Library& library() {
  static const Library lib = load();
  return lib;
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  constexpr int64_t kMax = 0x7fffffff;
  if (M > kMax || N > kMax || K > kMax || lda > kMax || ldb > kMax || ldc > kMax)
    throw std::range_error("OpenBLAS: a matrix dimension exceeds its 32-bit int");
  library().sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, static_cast<int>(M),
                  static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
                  beta, C, static_cast<int>(ldc));
}

}  // namespace sr::model::openblas
