// Rotary position embedding, "rotate half" layout (Hugging Face Llama): for
// each head of width hd and i < hd/2, with angle a = pos * theta^(-2i/hd),
//   y[i]        = x[i] cos a - x[i + hd/2] sin a
//   y[i + hd/2] = x[i + hd/2] cos a + x[i] sin a
// In place on rows of `heads * hd` values (row stride `stride`), each row at
// its own position pos[r]. The backward is the same rotation by -a (inverse).
// Tables cos/sin are [max_pos, hd/2], computed once per model in double.
// CUDA: the same, one thread per (row, head, i) pair; pos and the tables on the device.
#pragma once
#include <cstdint>
#include <vector>

namespace sr::model {

void rope_tables(int max_pos, int hd, double theta, std::vector<float>* cos_t, std::vector<float>* sin_t);

void rope_apply_cpu(float* x, const int32_t* pos, int64_t rows, int heads, int hd, int64_t stride, const float* cos_t,
                    const float* sin_t, bool inverse);

#ifdef SR_WITH_CUDA
void rope_apply_cuda(float* x, const int32_t* pos, int64_t rows, int heads, int hd, int64_t stride, const float* cos_t,
                     const float* sin_t, bool inverse);
#endif

}  // namespace sr::model
