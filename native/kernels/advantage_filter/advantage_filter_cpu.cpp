#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/cpu_dispatch.h"
#include "core/parallel.h"
#include "kernels/advantage_filter/advantage_filter.h"

namespace sr::kernels {

namespace {

// count / mean / sum of squared deviations; merged with Chan's formula.
struct Moments {
  double count = 0, mean = 0, m2 = 0;
};

void merge(Moments& a, const Moments& b) {
  if (b.count == 0) return;
  if (a.count == 0) {
    a = b;
    return;
  }
  const double n = a.count + b.count;
  const double delta = b.mean - a.mean;
  a.mean += delta * (b.count / n);
  a.m2 += b.m2 + delta * delta * (a.count * b.count / n);
  a.count = n;
}

// Branch-free so that the loops below vectorise.
inline bool finite_bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return (u & 0x7f800000u) != 0x7f800000u;
}

struct ChunkSums {
  double s1 = 0, s2 = 0;
  int64_t valid = 0, masked = 0;
};

// Counts and sums run as separate loops: the integer counts vectorise as they
// are, and the float64 sums need `omp simd` only for two accumulators (GCC 12
// miscompiled a single loop reducing four doubles under a mask).
SR_CPU_MULTIVERSION
ChunkSums chunk_sums(const float* __restrict x, const uint8_t* __restrict m, int64_t n, double shift) {
  ChunkSums r;
  int32_t valid = 0, masked = 0;  // chunks hold fewer than 2^31 elements
  double s1 = 0, s2 = 0;
  if (m) {
    for (int64_t i = 0; i < n; ++i) {
      const int32_t mv = m[i] != 0;
      valid += mv & finite_bits(x[i]);
      masked += mv;
    }
#pragma omp simd reduction(+ : s1, s2)
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const double d = (m[i] != 0) & finite_bits(v) ? static_cast<double>(v) - shift : 0.0;
      s1 += d;
      s2 += d * d;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) valid += finite_bits(x[i]);
    masked = static_cast<int32_t>(n);
#pragma omp simd reduction(+ : s1, s2)
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const double d = finite_bits(v) ? static_cast<double>(v) - shift : 0.0;
      s1 += d;
      s2 += d * d;
    }
  }
  r.s1 = s1;
  r.s2 = s2;
  r.valid = valid;
  r.masked = masked;
  return r;
}

// Writes z or 0; returns how many valid entries were kept (z in [zlo, zhi]).
// The count is an integer reduction: it vectorises without `omp simd`.
SR_CPU_MULTIVERSION
int64_t apply_range(const float* __restrict x, const uint8_t* __restrict m, float* __restrict out, int64_t n,
                    double mean, double inv, double zlo, double zhi) {
  int32_t kept = 0;  // chunks hold fewer than 2^31 elements
  if (m) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const double z = (static_cast<double>(v) - mean) * inv;
      const bool keep = (m[i] != 0) & finite_bits(v) & (z >= zlo) & (z <= zhi);
      out[i] = keep ? static_cast<float>(z) : 0.0f;
      kept += keep;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i];
      const double z = (static_cast<double>(v) - mean) * inv;
      const bool keep = finite_bits(v) & (z >= zlo) & (z <= zhi);
      out[i] = keep ? static_cast<float>(z) : 0.0f;
      kept += keep;
    }
  }
  return kept;
}

}  // namespace

void advantage_filter_cpu(const float* values, const uint8_t* mask, float* out, int64_t n, double sigma, double eps,
                          FilterRule rule, AdvantageFilterStats* stats) {
  *stats = AdvantageFilterStats{};
  if (n <= 0) return;
  // Up to 2^16 chunks keep every chunk below 2^31 elements (the loops count in int32) up to n = 2^40.
  const int64_t chunks = chunk_count(n, 1 << 15, 1 << 16);
  const int64_t size = chunk_size(n, chunks);
  std::vector<Moments> part(static_cast<size_t>(chunks));
  std::vector<int64_t> masked(static_cast<size_t>(chunks), 0);

  parallel_for(chunks, [&](int64_t c) {
    const int64_t begin = c * size;
    const int64_t end = std::min(n, begin + size);
    const uint8_t* m = mask ? mask + begin : nullptr;
    // Shift by the chunk's first valid value: the sums then see only the spread.
    int64_t first = begin;
    while (first < end && !((!mask || mask[first]) && finite_bits(values[first]))) ++first;
    const double shift = first < end ? static_cast<double>(values[first]) : 0.0;
    const ChunkSums s = chunk_sums(values + begin, m, end - begin, shift);
    Moments& p = part[static_cast<size_t>(c)];
    if (s.valid > 0) {
      p.count = static_cast<double>(s.valid);
      p.mean = shift + s.s1 / p.count;
      p.m2 = std::max(0.0, s.s2 - s.s1 * (s.s1 / p.count));
    }
    masked[static_cast<size_t>(c)] = s.masked;
  });

  Moments total;
  int64_t total_masked = 0;
  for (int64_t c = 0; c < chunks; ++c) {  // fixed order: deterministic
    merge(total, part[static_cast<size_t>(c)]);
    total_masked += masked[static_cast<size_t>(c)];
  }
  const int64_t valid = static_cast<int64_t>(total.count);
  const double mean = valid ? total.mean : 0.0;
  const double std = valid ? std::sqrt(total.m2 / total.count) : 0.0;
  // std == 0: every valid value equals the mean, so z = 0 (also when eps = 0).
  const double inv = std > 0 ? 1.0 / (std + eps) : 0.0;
  double zlo = -sigma, zhi = sigma;
  if (rule == FilterRule::ReleasedCode) {
    zlo = std::max(mean - sigma, -kReleasedCodeZLimit);
    zhi = std::min(mean + sigma, kReleasedCodeZLimit);
  }

  std::vector<int64_t> kept(static_cast<size_t>(chunks), 0);
  parallel_for(chunks, [&](int64_t c) {
    const int64_t begin = c * size;
    const int64_t end = std::min(n, begin + size);
    kept[static_cast<size_t>(c)] =
        apply_range(values + begin, mask ? mask + begin : nullptr, out + begin, end - begin, mean, inv, zlo, zhi);
  });
  int64_t total_kept = 0;
  for (int64_t k : kept) total_kept += k;

  stats->mean = mean;
  stats->std = std;
  stats->kept = total_kept;
  stats->filtered = valid - total_kept;
  stats->non_finite = total_masked - valid;
}

}  // namespace sr::kernels
