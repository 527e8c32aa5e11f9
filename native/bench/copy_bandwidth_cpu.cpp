#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bench/copy_bandwidth.h"
#include "core/error.h"
#include "core/parallel.h"

namespace sr::bench {

double copy_bandwidth_cpu(size_t bytes, int repeats) {
  // Same thread pool and chunking as the kernels, so the floor is what they can reach.
  std::vector<char> src(bytes), dst(bytes);
  for (size_t i = 0; i < bytes; i += 4096) src[i] = static_cast<char>(i);
  const int64_t chunks = chunk_count(static_cast<int64_t>(bytes), 1 << 20, 256);
  const int64_t size = chunk_size(static_cast<int64_t>(bytes), chunks);
  auto copy = [&] {
    parallel_for(chunks, [&](int64_t c) {
      const int64_t b = c * size;
      const int64_t e = std::min<int64_t>(b + size, static_cast<int64_t>(bytes));
      std::memcpy(dst.data() + b, src.data() + b, static_cast<size_t>(e - b));
    });
  };
  copy();  // touch the pages
  std::vector<double> secs;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    copy();
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  return 2.0 * static_cast<double>(bytes) / secs[secs.size() / 2] / 1e9;
}

}  // namespace sr::bench
