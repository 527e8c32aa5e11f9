#include "model/ops/rows/rows.h"

#include <algorithm>
#include <cstring>

namespace sr::model {

void gather_rows_cpu(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst) {
  for (int64_t m = 0; m < M; ++m) std::memcpy(dst + m * d, src + rows[m] * d, sizeof(float) * d);
}

void scatter_rows_cpu(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst) {
  for (int64_t m = 0; m < M; ++m) std::memcpy(dst + rows[m] * d, src + m * d, sizeof(float) * d);
}

void fill_zero_cpu(float* p, int64_t n) {
  if (n > 0) std::fill(p, p + n, 0.0f);
}

void copy_floats_cpu(float* dst, const float* src, int64_t n) {
  if (n > 0) std::memcpy(dst, src, sizeof(float) * n);
}

}  // namespace sr::model
