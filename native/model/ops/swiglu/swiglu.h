// SwiGLU activation of the MLP: a = silu(g) * u, silu(g) = g * sigmoid(g).
// Backward: du = da * silu(g);  dg = da * u * sigmoid(g) * (1 + g (1 - sigmoid(g))).
// Elementwise on n values; dg may alias da (written after da is read).
#pragma once
#include <cstdint>

namespace sr::model {

void swiglu_forward_cpu(const float* g, const float* u, float* a, int64_t n);
void swiglu_backward_cpu(const float* g, const float* u, const float* da, float* dg, float* du, int64_t n);

}  // namespace sr::model
