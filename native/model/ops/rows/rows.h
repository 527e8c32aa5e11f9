// Row moves of the model's orchestration (model.cpp), on either device; rows of d floats:
//   gather_rows:  dst[m] = src[rows[m]]    (m < M)
//   scatter_rows: dst[rows[m]] = src[m]    (rows distinct)
//   fill_zero:    p[0, n) = 0
//   copy_floats:  dst[0, n) = src[0, n)   (no overlap)
// CPU: memcpy / memset loops. CUDA: a grid-stride kernel for gather/scatter (rows on the
// device), cudaMemsetAsync / cudaMemcpyAsync for the others; asynchronous on the stream.
#pragma once
#include <cstdint>

namespace sr::model {

void gather_rows_cpu(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst);
void scatter_rows_cpu(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst);
void fill_zero_cpu(float* p, int64_t n);
void copy_floats_cpu(float* dst, const float* src, int64_t n);

#ifdef SR_WITH_CUDA
void gather_rows_cuda(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst);
void scatter_rows_cuda(const float* src, const int64_t* rows, int64_t M, int64_t d, float* dst);
void fill_zero_cuda(float* p, int64_t n);
void copy_floats_cuda(float* dst, const float* src, int64_t n);
#endif

}  // namespace sr::model
