// Run-time SIMD dispatch for CPU kernels. The binary targets baseline x86-64
// (portable prebuilt binaries); a function marked SR_CPU_MULTIVERSION is also
// compiled for x86-64-v3 (AVX2 + FMA), and the loader picks the best clone for
// the running CPU once, through an ifunc.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SR_NO_MULTIVERSION)
#define SR_CPU_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SR_CPU_MULTIVERSION
#endif
