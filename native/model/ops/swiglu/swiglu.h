// SwiGLU activation of the MLP: a = silu(g) * u, silu(g) = g * sigmoid(g).
// Backward: du = da * silu(g);  dg = da * u * sigmoid(g) * (1 + g (1 - sigmoid(g))).
// Elementwise on n values; a may alias g, dg may alias da (each written after it is read).
// CUDA: the same formulas (expf instead of the CPU's vectorised exp: last-bit differences).
#pragma once
#include <cstdint>

namespace sr::model {

void swiglu_forward_cpu(const float* g, const float* u, float* a, int64_t n);
void swiglu_backward_cpu(const float* g, const float* u, const float* da, float* dg, float* du, int64_t n);

#ifdef SR_WITH_CUDA
void swiglu_forward_cuda(const float* g, const float* u, float* a, int64_t n);
void swiglu_backward_cuda(const float* g, const float* u, const float* da, float* dg, float* du, int64_t n);
#endif

}  // namespace sr::model
