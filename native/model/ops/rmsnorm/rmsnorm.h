// RMSNorm (pre-norm of every block and the final norm), rows of width d:
//   inv[r] = 1 / sqrt(mean_j x[r,j]^2 + eps),   y[r,j] = x[r,j] * inv[r] * w[j]
// Backward, with n = x * inv:
//   dx[r,j] = inv[r] * (dy[r,j] w[j] - n[r,j] * mean_j(dy[r,j] w[j] n[r,j]))   (written, or added when accumulate)
//   dw[j]  += sum_r dy[r,j] n[r,j]    (fixed chunks reduced in order: independent of the thread count)
// f32 in and out, sums in f32 per row (d is a few thousand at most). Rows are independent.
//
// CUDA: forward one block per row; backward one block per fixed chunk of 32 rows (dx,
// and that chunk's dw partial sums), then a second kernel adds the partials to dw in
// chunk order: deterministic, and independent of the GPU. Asynchronous on the stream.
#pragma once
#include <cstdint>

namespace sr::model {

void rmsnorm_forward_cpu(const float* x, const float* w, float* y, float* inv, int64_t rows, int64_t d, float eps);
void rmsnorm_backward_cpu(const float* x, const float* w, const float* inv, const float* dy, float* dx, float* dw,
                          int64_t rows, int64_t d, bool accumulate_dx);

#ifdef SR_WITH_CUDA
void rmsnorm_forward_cuda(const float* x, const float* w, float* y, float* inv, int64_t rows, int64_t d, float eps);
void rmsnorm_backward_cuda(const float* x, const float* w, const float* inv, const float* dy, float* dx, float* dw,
                           int64_t rows, int64_t d, bool accumulate_dx);
#endif

}  // namespace sr::model
