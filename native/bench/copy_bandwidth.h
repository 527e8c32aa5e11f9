// Copy bandwidth of the machine, measured the way the benchmarks count it
// (bytes read + bytes written, per second), so that a kernel's time can be
// compared with its memory floor measured in the same run.
#pragma once
#include <cstddef>

#include "core/limits.h"

namespace sr::bench {

inline constexpr Range kCopyBytesRange = integers(1, 64e9);
inline constexpr Range kCopyRepeatsRange = integers(1, 10000);

// Median over `repeats` copies of `bytes` bytes; returns GB/s (read + write).
double copy_bandwidth_cpu(size_t bytes, int repeats);
#ifdef SR_WITH_CUDA
double copy_bandwidth_cuda(size_t bytes, int repeats);
#endif

}  // namespace sr::bench
