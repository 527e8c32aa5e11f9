#include "core/host_allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "core/error.h"

namespace sr {

namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kMinCached = size_t(1) << 16;  // small blocks come from malloc's own free lists

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> blocks;  // rounded size -> block
  size_t held = 0;
  size_t limit = [] {
    const char* env = std::getenv("SR_HOST_CACHE_MB");
    long mb = env ? std::atol(env) : 512;
    return static_cast<size_t>(mb < 0 ? 0 : mb) << 20;
  }();
};

Cache& cache() {
  static Cache* c = new Cache();  // leaked: blocks may be freed during process teardown
  return *c;
}

size_t rounded(size_t bytes) {
  size_t r = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (r >= kMinCached) r = (r + 4095) / 4096 * 4096;  // page multiples so near sizes share blocks
  return r ? r : kAlignment;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t size = rounded(bytes);
  if (size >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.blocks.find(size);
    if (it != c.blocks.end()) {
      void* p = it->second;
      c.blocks.erase(it);
      c.held -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (!p) throw_range("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void host_free(void* ptr, size_t bytes) noexcept {
  if (!ptr) return;
  const size_t size = rounded(bytes);
  if (size >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.held + size <= c.limit) {
      c.blocks.emplace(size, ptr);
      c.held += size;
      return;
    }
  }
  std::free(ptr);
}

size_t host_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.held;
}

}  // namespace sr
