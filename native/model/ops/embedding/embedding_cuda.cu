// Token and patch embeddings on CUDA (contract in embedding.h).
#include "cuda/check.h"
#include "model/ops/embedding/embedding.h"

namespace sr::model {

namespace {

#define SR_GRID_STRIDE(i, n)                                                             \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

__global__ void embed_rows_kernel(const float* __restrict__ E, const int32_t* __restrict__ ids,
                                  const int64_t* __restrict__ rows, int64_t n, int64_t d, float* __restrict__ out) {
  SR_GRID_STRIDE(e, n * d) {
    const int64_t i = e / d, j = e % d;
    out[rows[i] * d + j] = E[static_cast<int64_t>(ids[i]) * d + j];
  }
}

// Thread (v, j): dE[v, j] += the rows of id v in their original order (the CPU loop's order).
__global__ void embed_rows_backward_kernel(const float* __restrict__ dout, const int64_t* __restrict__ off,
                                           const int64_t* __restrict__ grouped, int64_t vocab, int64_t d,
                                           float* __restrict__ dE) {
  SR_GRID_STRIDE(e, vocab * d) {
    const int64_t v = e / d, j = e % d;
    const int64_t b = off[v], end = off[v + 1];
    if (b == end) continue;
    float s = dE[e];
    for (int64_t k = b; k < end; ++k) s += dout[grouped[k] * d + j];
    dE[e] = s;
  }
}

// patches[p, (py * patch + px) * 3 + ch] = image[(gr * patch + py), (gc * patch + px), ch], p = gr * grid + gc.
__global__ void extract_patches_kernel(const float* __restrict__ image, int size, int patch, float* __restrict__ out) {
  const int grid = size / patch;
  const int64_t row = 3LL * patch, pd = row * patch;
  SR_GRID_STRIDE(e, static_cast<int64_t>(grid) * grid * pd) {
    const int64_t p = e / pd, within = e % pd;
    const int64_t gr = p / grid, gc = p % grid, py = within / row, rest = within % row;
    out[e] = image[((gr * patch + py) * size + gc * patch) * 3 + rest];
  }
}

__global__ void patch_embed_add_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                       const float* __restrict__ row_e, const float* __restrict__ col_e, int grid,
                                       int64_t d) {
  SR_GRID_STRIDE(e, static_cast<int64_t>(grid) * grid * d) {
    const int64_t p = e / d, j = e % d;
    const int64_t gr = p / grid, gc = p % grid;
    y[e] += bias[j] + row_e[gr * d + j] + col_e[gc * d + j];
  }
}

// Thread j walks the grid cells in the CPU's order and owns column j of dbias, drow and dcol.
__global__ void patch_embed_backward_kernel(const float* __restrict__ dy, float* __restrict__ dbias,
                                            float* __restrict__ drow, float* __restrict__ dcol, int grid, int64_t d) {
  SR_GRID_STRIDE(j, d) {
    float b = dbias[j];
    for (int gr = 0; gr < grid; ++gr)
      for (int gc = 0; gc < grid; ++gc) {
        const float g = dy[(static_cast<int64_t>(gr) * grid + gc) * d + j];
        b += g;
        drow[static_cast<int64_t>(gr) * d + j] += g;
        dcol[static_cast<int64_t>(gc) * d + j] += g;
      }
    dbias[j] = b;
  }
}

}  // namespace

void embed_rows_cuda(const float* E, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d, float* out) {
  if (n <= 0 || d <= 0) return;
  embed_rows_kernel<<<cuda::grid_for(n * d, 256), 256, 0, cuda::stream()>>>(E, ids, rows, n, d, out);
  cuda::check_launch("embed_rows_kernel (model embedding)");
}

void embed_rows_backward_cuda(const float* dout, const int64_t* by_id_off, const int64_t* by_id_rows, int64_t vocab,
                              int64_t d, float* dE) {
  if (vocab <= 0 || d <= 0) return;
  embed_rows_backward_kernel<<<cuda::grid_for(vocab * d, 256), 256, 0, cuda::stream()>>>(dout, by_id_off, by_id_rows,
                                                                                         vocab, d, dE);
  cuda::check_launch("embed_rows_backward_kernel (model embedding)");
}

void extract_patches_cuda(const float* image, int size, int patch, float* patches) {
  const int grid = size / patch;
  const int64_t n = static_cast<int64_t>(grid) * grid * 3 * patch * patch;
  if (n <= 0) return;
  extract_patches_kernel<<<cuda::grid_for(n, 256), 256, 0, cuda::stream()>>>(image, size, patch, patches);
  cuda::check_launch("extract_patches_kernel (model patch embedding)");
}

void patch_embed_add_cuda(float* y, const float* bias, const float* row_e, const float* col_e, int grid, int64_t d) {
  const int64_t n = static_cast<int64_t>(grid) * grid * d;
  if (n <= 0) return;
  patch_embed_add_kernel<<<cuda::grid_for(n, 256), 256, 0, cuda::stream()>>>(y, bias, row_e, col_e, grid, d);
  cuda::check_launch("patch_embed_add_kernel (model patch embedding)");
}

void patch_embed_backward_cuda(const float* dy, float* dbias, float* drow, float* dcol, int grid, int64_t d) {
  if (d <= 0 || grid <= 0) return;
  patch_embed_backward_kernel<<<cuda::grid_for(d, 128), 128, 0, cuda::stream()>>>(dy, dbias, drow, dcol, grid, d);
  cuda::check_launch("patch_embed_backward_kernel (model patch embedding)");
}

}  // namespace sr::model
