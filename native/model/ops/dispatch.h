// The built-in model's ops by device. model.cpp holds one orchestration over
// device-agnostic buffers (buffer.h) and calls these; each forwards to the op's
// _cpu or _cuda entry point (contracts in the op headers) on the model's device,
// through SR_ON_DEVICE (core/device_dispatch.h), as the kernel bindings do.
#pragma once
#include <cstdint>

#include "core/device_dispatch.h"
#include "model/ops/attention/attention.h"
#include "model/ops/embedding/embedding.h"
#include "model/ops/lm_logprobs/lm_logprobs.h"
#include "model/ops/matmul/matmul.h"
#include "model/ops/rmsnorm/rmsnorm.h"
#include "model/ops/rope/rope.h"
#include "model/ops/rows/rows.h"
#include "model/ops/swiglu/swiglu.h"

namespace sr::model {

struct Exec {
  Device dev = Device::CPU;
  MatmulPrecision precision = MatmulPrecision::Tf32;  // CUDA products; the CPU is always f32
  bool cuda() const { return dev == Device::CUDA; }
};

inline void gemm(const Exec& ex, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  SR_ON_DEVICE(ex.dev, gemm_cpu(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc),
               gemm_cuda(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ex.precision));
}

inline void rmsnorm_forward(const Exec& ex, const float* x, const float* w, float* y, float* inv, int64_t rows,
                            int64_t d, float eps) {
  SR_ON_DEVICE(ex.dev, rmsnorm_forward_cpu(x, w, y, inv, rows, d, eps),
               rmsnorm_forward_cuda(x, w, y, inv, rows, d, eps));
}

inline void rmsnorm_backward(const Exec& ex, const float* x, const float* w, const float* inv, const float* dy,
                             float* dx, float* dw, int64_t rows, int64_t d, bool accumulate_dx) {
  SR_ON_DEVICE(ex.dev, rmsnorm_backward_cpu(x, w, inv, dy, dx, dw, rows, d, accumulate_dx),
               rmsnorm_backward_cuda(x, w, inv, dy, dx, dw, rows, d, accumulate_dx));
}

inline void rope_apply(const Exec& ex, float* x, const int32_t* pos, int64_t rows, int heads, int hd, int64_t stride,
                       const float* cos_t, const float* sin_t, bool inverse) {
  SR_ON_DEVICE(ex.dev, rope_apply_cpu(x, pos, rows, heads, hd, stride, cos_t, sin_t, inverse),
               rope_apply_cuda(x, pos, rows, heads, hd, stride, cos_t, sin_t, inverse));
}

inline void swiglu_forward(const Exec& ex, const float* g, const float* u, float* a, int64_t n) {
  SR_ON_DEVICE(ex.dev, swiglu_forward_cpu(g, u, a, n), swiglu_forward_cuda(g, u, a, n));
}

inline void swiglu_backward(const Exec& ex, const float* g, const float* u, const float* da, float* dg, float* du,
                            int64_t n) {
  SR_ON_DEVICE(ex.dev, swiglu_backward_cpu(g, u, da, dg, du, n), swiglu_backward_cuda(g, u, da, dg, du, n));
}

inline void embed_rows(const Exec& ex, const float* E, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d,
                       float* out) {
  SR_ON_DEVICE(ex.dev, embed_rows_cpu(E, ids, rows, n, d, out), embed_rows_cuda(E, ids, rows, n, d, out));
}

// The CPU reads (ids, rows, n); CUDA the same rows grouped by id (group_rows_by_id).
inline void embed_rows_backward(const Exec& ex, const float* dout, const int32_t* ids, const int64_t* rows, int64_t n,
                                const int64_t* by_id_off, const int64_t* by_id_rows, int64_t vocab, int64_t d,
                                float* dE) {
  SR_ON_DEVICE(ex.dev, embed_rows_backward_cpu(dout, ids, rows, n, d, dE),
               embed_rows_backward_cuda(dout, by_id_off, by_id_rows, vocab, d, dE));
}

inline void extract_patches(const Exec& ex, const float* image, int size, int patch, float* patches) {
  SR_ON_DEVICE(ex.dev, extract_patches_cpu(image, size, patch, patches),
               extract_patches_cuda(image, size, patch, patches));
}

inline void patch_embed_add(const Exec& ex, float* y, const float* bias, const float* row_e, const float* col_e,
                            int grid, int64_t d) {
  SR_ON_DEVICE(ex.dev, patch_embed_add_cpu(y, bias, row_e, col_e, grid, d),
               patch_embed_add_cuda(y, bias, row_e, col_e, grid, d));
}

inline void patch_embed_backward(const Exec& ex, const float* dy, float* dbias, float* drow, float* dcol, int grid,
                                 int64_t d) {
  SR_ON_DEVICE(ex.dev, patch_embed_backward_cpu(dy, dbias, drow, dcol, grid, d),
               patch_embed_backward_cuda(dy, dbias, drow, dcol, grid, d));
}

inline void attention_forward(const Exec& ex, const AttnBatch& b, const float* q, const float* k, const float* v,
                              float* out, float* probs) {
  SR_ON_DEVICE(ex.dev, attention_forward_batch_cpu(b, q, k, v, out, probs),
               attention_forward_cuda(b, q, k, v, out, probs));
}

// scratch: the largest n * m of the batch on the CPU, the size of probs on CUDA.
inline void attention_backward(const Exec& ex, const AttnBatch& b, const float* q, const float* k, const float* v,
                               const float* probs, const float* dout, float* dq, float* dk, float* dv, float* scratch) {
  SR_ON_DEVICE(ex.dev, attention_backward_batch_cpu(b, q, k, v, probs, dout, dq, dk, dv, scratch),
               attention_backward_cuda(b, q, k, v, probs, dout, dq, dk, dv, scratch));
}

inline void kv_cache_write(const Exec& ex, const float* k, const float* v, float* cache_k, float* cache_v,
                           const int64_t* slots, const int32_t* pos, int64_t rows, int64_t cap, int64_t kvd) {
  SR_ON_DEVICE(ex.dev, kv_cache_write_cpu(k, v, cache_k, cache_v, slots, pos, rows, cap, kvd),
               kv_cache_write_cuda(k, v, cache_k, cache_v, slots, pos, rows, cap, kvd));
}

inline void lm_logprobs_forward(const Exec& ex, const float* logits, const int32_t* tokens, int64_t rows, int64_t V,
                                float temperature, float* logprobs, float* entropy) {
  SR_ON_DEVICE(ex.dev, lm_logprobs_forward_cpu(logits, tokens, rows, V, temperature, logprobs, entropy),
               lm_logprobs_forward_cuda(logits, tokens, rows, V, temperature, logprobs, entropy));
}

inline void lm_logprobs_backward(const Exec& ex, const float* logits, const int32_t* tokens, const float* grad,
                                 const float* grad_entropy, int64_t rows, int64_t V, float temperature,
                                 float* dlogits) {
  SR_ON_DEVICE(ex.dev, lm_logprobs_backward_cpu(logits, tokens, grad, grad_entropy, rows, V, temperature, dlogits),
               lm_logprobs_backward_cuda(logits, tokens, grad, grad_entropy, rows, V, temperature, dlogits));
}

inline void gather_rows(const Exec& ex, const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst) {
  SR_ON_DEVICE(ex.dev, gather_rows_cpu(src, rows, M, d, dst), gather_rows_cuda(src, rows, M, d, dst));
}

inline void scatter_rows(const Exec& ex, const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst) {
  SR_ON_DEVICE(ex.dev, scatter_rows_cpu(src, rows, M, d, dst), scatter_rows_cuda(src, rows, M, d, dst));
}

inline void fill_zero(const Exec& ex, float* p, int64_t n) {
  SR_ON_DEVICE(ex.dev, fill_zero_cpu(p, n), fill_zero_cuda(p, n));
}

inline void copy_floats(const Exec& ex, float* dst, const float* src, int64_t n) {
  SR_ON_DEVICE(ex.dev, copy_floats_cpu(dst, src, n), copy_floats_cuda(dst, src, n));
}

}  // namespace sr::model
