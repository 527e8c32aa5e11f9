// JS (internal: op-level tests and benchmarks of the model's GEMM):
//   modelMatmul(a, b, c, { transA, transB, alpha, beta, precision: 'tf32' | 'tf32x3', m, n, k,
//                          engine?: 'builtin' | 'openblas', kernel?: 'auto' | 'avx512' | 'avx2' | 'generic' }, async)
//     -> undefined | Promise<undefined>
//   cpuGemmInfo() -> { engine, kernel, bestKernel, kernels, openblas: { available, path?, reason? }, note? }
//   setCpuGemm(engine, kernel)   the process-wide choice of the model's CPU products (matmul.h)
// In place: c[0:m, 0:n] = alpha op(a)[0:m, 0:k] op(b)[0:k, 0:n] + beta c[0:m, 0:n] (matmul.h), on the
// tensors' device. a, b, c are 2-D f32 tensors on one device; each row stride is the tensor's row
// length, so m/n/k smaller than the shapes exercise strided rows. precision applies to CUDA only; engine and
// kernel to the CPU only (absent: the process-wide choice, as the model uses).
#include <algorithm>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "model/ops/matmul/gemm_cpu.h"
#include "model/ops/matmul/matmul.h"
#include "model/ops/matmul/openblas_loader.h"

namespace sr::binding {
namespace {

int64_t dim_arg(const Napi::Object& o, const char* key) {
  const double v = number_arg(o.Get(key), key);
  if (v < 0 || v != static_cast<double>(static_cast<int64_t>(v)))
    throw_range(std::string("options.") + key + " must be an integer >= 0");
  return static_cast<int64_t>(v);
}

Napi::Value model_matmul(const Napi::CallbackInfo& info) {
  const Tensor& a = tensor_arg(info[0], "a");
  const Tensor& b = tensor_arg(info[1], "b");
  const Tensor& c = tensor_arg(info[2], "c");
  const char* names[] = {"a", "b", "c"};
  const Tensor* ts[] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    expect_dtype(*ts[i], DType::F32, names[i]);
    expect_rank(*ts[i], 2, names[i]);
  }
  expect_same_device(a, "a", b, "b");
  expect_same_device(a, "a", c, "c");
  if (!info[3].IsObject()) throw_type("options must be an object");
  Napi::Object o = info[3].As<Napi::Object>();
  const bool ta = bool_arg(o.Get("transA"), "options.transA");
  const bool tb = bool_arg(o.Get("transB"), "options.transB");
  const float alpha = static_cast<float>(number_arg(o.Get("alpha"), "options.alpha"));
  const float beta = static_cast<float>(number_arg(o.Get("beta"), "options.beta"));
  const std::string prec = string_arg(o.Get("precision"), "options.precision");
  if (prec != "tf32" && prec != "tf32x3") throw_type("options.precision must be 'tf32' or 'tf32x3'");
  const int64_t M = dim_arg(o, "m"), N = dim_arg(o, "n"), K = dim_arg(o, "k");
  // CPU engine: absent = the process-wide choice; otherwise one product with the named engine / kernel.
  const Napi::Value eng = o.Get("engine"), ker = o.Get("kernel");
  const std::string engine = eng.IsUndefined() ? "" : string_arg(eng, "options.engine");
  const std::string kernel_name = ker.IsUndefined() ? "" : string_arg(ker, "options.kernel");
  if (!engine.empty() && engine != "builtin" && engine != "openblas")
    throw_type("options.engine must be 'builtin' or 'openblas'");
  if (engine == "openblas" && !model::openblas::library().sgemm)
    throw_runtime("options.engine 'openblas': OpenBLAS could not be loaded: " + model::openblas::library().reason);
  const model::cpugemm::Kernel* kernel = nullptr;
  if (!kernel_name.empty()) {
    if (kernel_name != "auto" && kernel_name != "avx512" && kernel_name != "avx2" && kernel_name != "generic")
      throw_type("options.kernel must be 'auto', 'avx512', 'avx2' or 'generic'");
    kernel = model::cpu_gemm_kernel(kernel_name);
    if (!kernel) throw_range("options.kernel '" + kernel_name + "' is not available on this CPU");
  }
  const bool async = bool_arg(info[4], "async");
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
  const model::MatmulPrecision p = prec == "tf32x3" ? model::MatmulPrecision::Tf32x3 : model::MatmulPrecision::Tf32;
  auto exec = [a, b, c, ta, tb, alpha, beta, p, M, N, K, engine, kernel] {
    const int64_t lda = std::max<int64_t>(1, a.shape[1]), ldb = std::max<int64_t>(1, b.shape[1]);
    const int64_t ldc = std::max<int64_t>(1, c.shape[1]);
    if (a.device() == Device::CPU) {
      const float* A = a.data<float>();
      const float* B = b.data<float>();
      float* C = c.data<float>();
      if (engine == "openblas" && M > 0 && N > 0 && K > 0) {
        model::openblas::sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      } else if (engine == "builtin" || kernel) {
        const model::cpugemm::Kernel& k = kernel ? *kernel : *model::cpu_gemm_kernel("auto");
        model::gemm_builtin(k, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      } else {
        model::gemm_cpu(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
      }
    } else {
#ifdef SR_WITH_CUDA
      model::gemm_cuda(ta, tb, M, N, K, alpha, a.data<float>(), lda, b.data<float>(), ldb, beta, c.data<float>(), ldc,
                       p);
#else
      (void)p;
      throw_runtime("modelMatmul: this build has no CUDA");
#endif
    }
  };
  auto result = [](Napi::Env env) -> Napi::Value { return env.Undefined(); };
  return run_job(info.Env(), make_job(exec, result), async);
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
  const std::string engine = string_arg(info[0], "engine");
  const std::string kernel = string_arg(info[1], "kernel");
  try {
    model::set_cpu_gemm(engine, kernel);
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
