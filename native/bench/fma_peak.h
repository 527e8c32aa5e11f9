// The machine's measured single-precision FMA peak: the floor a GEMM's speed is
// compared with. Each thread of the core's pool runs 16 independent chains of
// vector FMAs (more than FMA latency x FMA units, so the units never wait) of the
// given width (16 chains for AVX-512's 32 registers, 12 for AVX2's 16); GFLOP/s counts 2 flops per lane per FMA.
// Measured, not computed from a nominal clock: under a hypervisor /proc/cpuinfo shows the base clock, while the cores
// run at their boost clock.
#pragma once
#include <string>

#include "core/limits.h"

namespace sr::bench {

// kernel: "avx512" (16 lanes) or "avx2" (8 lanes, FMA3); threads: 1 or all of the pool. Median over `repeats` runs of
// about `seconds` each. Throws std::invalid_argument for a kernel this CPU lacks.
inline constexpr Range kFmaSecondsRange = closed(0.001, 60);
inline constexpr Range kFmaRepeatsRange = integers(1, 1000);
double fma_peak_cpu(const std::string& kernel, bool all_threads, double seconds, int repeats);

}  // namespace sr::bench
