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
#pragma once
#include <cstdint>

namespace sr::model {

void embed_rows_cpu(const float* E, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d, float* out);
void embed_rows_backward_cpu(const float* dout, const int32_t* ids, const int64_t* rows, int64_t n, int64_t d,
                             float* dE);

void extract_patches_cpu(const float* image, int size, int patch, float* patches);
void patch_embed_add_cpu(float* y, const float* bias, const float* row_e, const float* col_e, int grid, int64_t d);
void patch_embed_backward_cpu(const float* dy, float* dbias, float* drow, float* dcol, int grid, int64_t d);

}  // namespace sr::model
