// Input embeddings of the built-in model.
//
// Token embedding: out[r] = E[ids[r]] for the listed rows; backward
// dE[ids[r]] += dout[r] (serial in row order: deterministic, and cheap next to the GEMMs).
//
// Patch embedding of an RGB image of S x S pixels (HWC, values already
// normalised to [-1, 1]) cut into p x p patches on a G x G grid (G = S / p):
//   patch vector of patch (gr, gc): [py][px][channel], length 3 p^2 (extract_patches)
//   token = W_pe patch + b_pe + row_embed[gr] + col_embed[gc]      (learned 2-D positions)
// patch_embed_add adds b_pe + row + col to rows holding W_pe patch;
// patch_embed_backward accumulates db, drow, dcol from those rows' gradient (dW_pe is a GEMM in the caller).
//
// CUDA: the same contracts with every array on the device, asynchronous on the stream, no
// atomics (deterministic, and the CPU's order of additions):
// - embed_rows_backward_cuda takes the rows grouped by token id (group_rows_by_id, on the host:
//   by_id_off [vocab + 1] offsets into by_id_rows, each group in increasing order); one thread per
//   (id, column) adds its rows' gradients to dE in that order;
// - patch_embed_backward_cuda: one thread per column walks the grid cells in the CPU's order.
#pragma once
#include <cstdint>
#include <vector>

namespace sr::model {

void embed_rows_cpu(const float* E, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d, float* out);
void embed_rows_backward_cpu(const float* dout, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d,
                             float* dE);

void extract_patches_cpu(const float* image, int size, int patch, float* patches);
void patch_embed_add_cpu(float* y, const float* bias, const float* row_e, const float* col_e, int grid, int64_t d);
void patch_embed_backward_cpu(const float* dy, float* dbias, float* drow, float* dcol, int grid, int64_t d);

// by_id_off[v] .. by_id_off[v + 1]: the entries of `rows` whose id is v, in their original order.
void group_rows_by_id(const int32_t* ids, const int64_t* rows, int64_t n, int64_t vocab,
                      std::vector<int64_t>* by_id_off, std::vector<int64_t>* by_id_rows);

#ifdef SR_WITH_CUDA
void embed_rows_cuda(const float* E, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d, float* out);
void embed_rows_backward_cuda(const float* dout, const int64_t* by_id_off, const int64_t* by_id_rows, int64_t vocab,
                              int64_t d, float* dE);
void extract_patches_cuda(const float* image, int size, int patch, float* patches);
void patch_embed_add_cuda(float* y, const float* bias, const float* row_e, const float* col_e, int grid, int64_t d);
void patch_embed_backward_cuda(const float* dy, float* dbias, float* drow, float* dcol, int grid, int64_t d);
#endif

}  // namespace sr::model
