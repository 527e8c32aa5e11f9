// JS (internal: op-level tests and benchmarks of the model's GEMM):
//   modelMatmul(a, b, c, { transA, transB, alpha, beta, precision: 'tf32' | 'tf32x3', m, n, k }, async)
//     -> undefined | Promise<undefined>
// In place: c[0:m, 0:n] = alpha op(a)[0:m, 0:k] op(b)[0:k, 0:n] + beta c[0:m, 0:n] (matmul.h), on the
// tensors' device. a, b, c are 2-D f32 tensors on one device; each row stride is the tensor's row
// length, so m/n/k smaller than the shapes exercise strided rows. precision applies to CUDA only.
#include <algorithm>
#include <string>

#include "binding/args.h"
#include "binding/job.h"
#include "binding/js_tensor.h"
#include "binding/registry.h"
#include "model/ops/matmul/matmul.h"

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
  auto exec = [a, b, c, ta, tb, alpha, beta, p, M, N, K] {
    const int64_t lda = std::max<int64_t>(1, a.shape[1]), ldb = std::max<int64_t>(1, b.shape[1]);
    const int64_t ldc = std::max<int64_t>(1, c.shape[1]);
    if (a.device() == Device::CPU) {
      model::gemm_cpu(ta, tb, M, N, K, alpha, a.data<float>(), lda, b.data<float>(), ldb, beta, c.data<float>(), ldc);
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

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("modelMatmul", make_function(env, "modelMatmul", model_matmul));
}

}  // namespace
}  // namespace sr::binding

SR_REGISTER_BINDING(model_matmul, sr::binding::init);
