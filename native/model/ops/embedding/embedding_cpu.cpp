#include "model/ops/embedding/embedding.h"

#include <cstring>

namespace sr::model {

void embed_rows_cpu(const float* E, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d, float* out) {
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out + rows[i] * d, E + static_cast<int64_t>(ids[i]) * d, static_cast<size_t>(d) * sizeof(float));
}

void embed_rows_backward_cpu(const float* dout, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d,
                             float* dE) {
  for (int64_t i = 0; i < n; ++i) {
    float* __restrict dst = dE + static_cast<int64_t>(ids[i]) * d;
    const float* __restrict src = dout + rows[i] * d;
#pragma omp simd
    for (int64_t j = 0; j < d; ++j) dst[j] += src[j];
  }
}

void group_rows_by_id(const int32_t* ids, const int64_t* rows, int64_t n, int64_t vocab,
                      std::vector<int64_t>* by_id_off, std::vector<int64_t>* by_id_rows) {
  by_id_off->assign(static_cast<size_t>(vocab + 1), 0);
  for (int64_t i = 0; i < n; ++i) ++(*by_id_off)[ids[i] + 1];
  for (int64_t v = 0; v < vocab; ++v) (*by_id_off)[v + 1] += (*by_id_off)[v];
  std::vector<int64_t> next(by_id_off->begin(), by_id_off->end() - 1);
  by_id_rows->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) (*by_id_rows)[next[ids[i]]++] = rows[i];  // stable: row order kept per id
}

void extract_patches_cpu(const float* image, int size, int patch, float* patches) {
  const int grid = size / patch;
  const int64_t pd = 3LL * patch * patch;
  for (int gr = 0; gr < grid; ++gr)
    for (int gc = 0; gc < grid; ++gc) {
      float* dst = patches + (static_cast<int64_t>(gr) * grid + gc) * pd;
      for (int py = 0; py < patch; ++py) {
        const float* src =
            image + ((static_cast<int64_t>(gr) * patch + py) * size + static_cast<int64_t>(gc) * patch) * 3;
        std::memcpy(dst + static_cast<int64_t>(py) * patch * 3, src, sizeof(float) * 3 * patch);
      }
    }
}

void patch_embed_add_cpu(float* y, const float* bias, const float* row_e, const float* col_e, int grid, int64_t d) {
  for (int gr = 0; gr < grid; ++gr)
    for (int gc = 0; gc < grid; ++gc) {
      float* __restrict yr = y + (static_cast<int64_t>(gr) * grid + gc) * d;
      const float* __restrict re = row_e + static_cast<int64_t>(gr) * d;
      const float* __restrict ce = col_e + static_cast<int64_t>(gc) * d;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) yr[j] += bias[j] + re[j] + ce[j];
    }
}

void patch_embed_backward_cpu(const float* dy, float* dbias, float* drow, float* dcol, int grid, int64_t d) {
  for (int gr = 0; gr < grid; ++gr)
    for (int gc = 0; gc < grid; ++gc) {
      const float* __restrict g = dy + (static_cast<int64_t>(gr) * grid + gc) * d;
      float* __restrict re = drow + static_cast<int64_t>(gr) * d;
      float* __restrict ce = dcol + static_cast<int64_t>(gc) * d;
#pragma omp simd
      for (int64_t j = 0; j < d; ++j) {
        dbias[j] += g[j];
        re[j] += g[j];
        ce[j] += g[j];
      }
    }
}

}  // namespace sr::model
