// Elementary functions written so that GCC/Clang vectorise the loops that call
// them (no library calls, no branches): the CPU kernels' hot loops use these
// instead of std::exp. Accuracy: fast_exp is within 2 ulp of expf over the
// whole float range, returns +inf above 88.72, 0 below -87.34 (no denormals),
// and NaN for NaN.
#pragma once
#include <cstdint>
#include <cstring>

namespace sr::simd {

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

inline float fast_exp(float x) {
  const float kHi = 88.72283935546875f;  // ln(FLT_MAX)
  const float kLo = -87.33654475f;       // ln(FLT_MIN)
  float xc = x > kHi ? kHi : x;
  xc = xc < kLo ? kLo : xc;
  // n = round(x / ln 2) with the 1.5 * 2^23 trick (exact for |n| < 2^22).
  const float kShift = 12582912.0f;
  float t = xc * 1.44269504088896341f + kShift;
  int32_t n = float_to_bits(t) - 0x4B400000;
  float nf = t - kShift;
  float r = xc - nf * 0.693359375f;  // Cody-Waite: ln 2 split in two parts
  r = r - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n in two factors so neither over/underflows for n in [-126, 128].
  int32_t n1 = n / 2;
  int32_t n2 = n - n1;
  float y = p * bits_to_float((n1 + 127) << 23) * bits_to_float((n2 + 127) << 23);
  y = x > kHi ? __builtin_inff() : y;
  y = x < kLo ? 0.0f : y;
  return x != x ? x : y;
}

}  // namespace sr::simd
