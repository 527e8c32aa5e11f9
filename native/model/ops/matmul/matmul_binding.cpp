// JS (internal: op-level tests and benchmarks of the model's GEMM; the engine choice is public through
// lib/backends.ts):
//   modelMatmul({ a, b, c, transA, transB, alpha, beta, precision: 'tf32' | 'tf32x3', m, n, k,
//                 engine?: 'builtin' | 'openblas', kernel?: 'auto' | 'avx512' | 'avx2' | 'generic', async? })
//     -> undefined | Promise<undefined>
//   cpuGemmInfo() -> { engine, kernel, bestKernel, kernels, openblas: { available, path?, reason? }, note? }
//   setCpuGemm({ engine, kernel })   the process-wide choice of the model's CPU products (matmul.h)
// In place: c[0:m, 0:n] = alpha op(a)[0:m, 0:k] op(b)[0:k, 0:n] + beta c[0:m, 0:n] (matmul.h), on the
// tensors' device. a, b, c are 2-D f32 tensors on one device; each row stride is the tensor's row
// length, so m/n/k smaller than the shapes exercise strided rows. precision applies to CUDA only; engine and
// kernel to the CPU only (absent: the process-wide choice, as the model uses).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "core/device_dispatch.h"
#include "model/ops/matmul/gemm_cpu.h"
#include "model/ops/matmul/matmul.h"
#include "model/ops/matmul/openblas_loader.h"

namespace sr::binding {
namespace {

constexpr Choice<model::MatmulPrecision> kPrecisions[] = {{"tf32", model::MatmulPrecision::Tf32},
                                                          {"tf32x3", model::MatmulPrecision::Tf32x3}};
enum class Engine { Chosen, Builtin, OpenBlas };
constexpr Choice<Engine> kEngines[] = {{"builtin", Engine::Builtin}, {"openblas", Engine::OpenBlas}};
constexpr Choice<const char*> kKernels[] = {
    {"auto", "auto"}, {"avx512", "avx512"}, {"avx2", "avx2"}, {"generic", "generic"}};

int64_t dim(const Options& o, const char* key) {
  const double v = o.number(key, (std::string("options.") + key).c_str());
  if (v < 0 || v != static_cast<double>(static_cast<int64_t>(v)))
    throw_range(std::string("options.") + key + " must be an integer >= 0, got " + std::to_string(v));
  return static_cast<int64_t>(v);
}

Napi::Value model_matmul(const Napi::CallbackInfo& info) {
  const Options o(info);
  const Tensor& a = o.tensor("a");
  const Tensor& b = o.tensor("b");
  const Tensor& c = o.tensor("c");
  const char* names[] = {"a", "b", "c"};
  const Tensor* ts[] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    expect_dtype(*ts[i], DType::F32, names[i]);
    expect_rank(*ts[i], 2, names[i]);
  }
  expect_same_device(a, "a", b, "b");
  expect_same_device(a, "a", c, "c");
  const bool ta = o.boolean("transA", "options.transA");
  const bool tb = o.boolean("transB", "options.transB");
  const float alpha = static_cast<float>(o.number("alpha", "options.alpha"));
  const float beta = static_cast<float>(o.number("beta", "options.beta"));
  const model::MatmulPrecision p = o.choice("precision", kPrecisions, "options.precision");
  const int64_t M = dim(o, "m"), N = dim(o, "n"), K = dim(o, "k");
  // CPU engine: absent = the process-wide choice; otherwise this one product with the named engine / kernel.
  const Engine engine = o.has("engine") ? o.choice("engine", kEngines, "options.engine") : Engine::Chosen;
  if (engine == Engine::OpenBlas && !model::openblas::library().sgemm)
    throw_range("options.engine 'openblas': OpenBLAS could not be loaded: " + model::openblas::library().reason);
  const model::cpugemm::Kernel* kernel = nullptr;
  if (o.has("kernel")) {
    const std::string name = o.choice("kernel", kKernels, "options.kernel");
    kernel = model::cpu_gemm_kernel(name);
    if (!kernel) throw_range("options.kernel '" + name + "' is not available on this CPU");
  }
  // op(a) is [M, K]: a holds it as [M, K] or, transposed, [K, M] (rows of a.shape[1]).
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
  if (a.shape[0] < a_rows || a.shape[1] < a_cols)
    throw_range("a " + a.shape_string() + " is too small for op(a) of [" + std::to_string(M) + ", " +
                std::to_string(K) + "]");
  if (b.shape[0] < b_rows || b.shape[1] < b_cols)
    throw_range("b " + b.shape_string() + " is too small for op(b) of [" + std::to_string(K) + ", " +
                std::to_string(N) + "]");
  if (c.shape[0] < M || c.shape[1] < N)
    throw_range("c " + c.shape_string() + " is too small for [" + std::to_string(M) + ", " + std::to_string(N) + "]");
  auto exec = [a, b, c, ta, tb, alpha, beta, p, M, N, K, engine, kernel] {
    const int64_t lda = std::max<int64_t>(1, a.shape[1]), ldb = std::max<int64_t>(1, b.shape[1]);
    const int64_t ldc = std::max<int64_t>(1, c.shape[1]);
    const float* A = a.data<float>();
    const float* B = b.data<float>();
    float* C = c.data<float>();
    auto cpu = [&] {
      if (engine == Engine::OpenBlas && M > 0 && N > 0 && K > 0) {
        model::openblas::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      } else if (engine == Engine::Builtin || kernel) {
        const model::cpugemm::Kernel& k = kernel ? *kernel : *model::cpu_gemm_kernel("auto");
        model::gemm_builtin(k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      } else {
        model::gemm_cpu(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      }
    };
    SR_ON_DEVICE(a.device(), cpu(), model::gemm_cuda(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, p));
    (void)p;
  };
  auto result = [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return run_job(info.Env(), make_job(exec, result), o.async());
}

Napi::Value cpu_gemm_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const model::CpuGemmInfo g = model::cpu_gemm_info();
  Napi::Object out = Napi::Object::New(env);
  out.Set("engine", g.engine);
  out.Set("kernel", g.kernel);
  out.Set("bestKernel", g.best_kernel);
  Napi::Array kernels = Napi::Array::New(env, g.kernels.size());
  for (size_t i = 0; i < g.kernels.size(); ++i) kernels.Set(static_cast<uint32_t>(i), g.kernels[i]);
  out.Set("kernels", kernels);
  Napi::Object ob = Napi::Object::New(env);
  ob.Set("available", g.openblas_available);
  if (!g.openblas_path.empty()) ob.Set("path", g.openblas_path);
  if (!g.openblas_reason.empty()) ob.Set("reason", g.openblas_reason);
  out.Set("openblas", ob);
  if (!g.note.empty()) out.Set("note", g.note);
  return out;
}

Napi::Value set_cpu_gemm(const Napi::CallbackInfo& info) {
  const Options o(info, "options.");
  const Engine engine = o.choice("engine", kEngines);
  const std::string kernel = o.choice("kernel", kKernels);
  try {
    model::set_cpu_gemm(engine == Engine::OpenBlas ? "openblas" : "builtin", kernel);
  } catch (const std::invalid_argument& e) {
    throw_range(e.what());
  }
  return info.Env().Undefined();
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("modelMatmul", make_function(env, "modelMatmul", model_matmul));
  exports.Set("cpuGemmInfo", make_function(env, "cpuGemmInfo", cpu_gemm_info));
  exports.Set("setCpuGemm", make_function(env, "setCpuGemm", set_cpu_gemm));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(model_matmul, sr::binding::init);
