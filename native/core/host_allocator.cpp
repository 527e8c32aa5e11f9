#include "core/host_allocator.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "core/error.h"

namespace sr {

namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kLarge = size_t(1) << 16;  // from here sizes are rounded to pages

struct Cache {
  std::mutex mu;
  // Rounded size -> first free block of that size (nullptr: none); entries stay once created, so
  // the steady state of a loop allocates no map nodes.
  std::unordered_map<size_t, void*> free_lists;
  size_t held = 0, held_small = 0;
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
  if (r >= kLarge) r = (r + 4095) / 4096 * 4096;  // page multiples so near sizes share blocks
  return r ? r : kAlignment;
}

void* next_of(void* block) {
  void* next;
  std::memcpy(&next, block, sizeof next);
  return next;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t size = rounded(bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_lists.find(size);
    if (it != c.free_lists.end() && it->second) {
      void* p = it->second;
      it->second = next_of(p);
      c.held -= size;
      if (size < kLarge) c.held_small -= size;
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
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    const bool fits = c.held + size <= c.limit && (size >= kLarge || c.held_small + size <= c.limit / 8);
    if (fits) {
      try {
        void*& head = c.free_lists[size];
        std::memcpy(ptr, &head, sizeof head);
        head = ptr;
        c.held += size;
        if (size < kLarge) c.held_small += size;
        return;
      } catch (const std::bad_alloc&) {
        // No room for a new list entry: give the block back instead.
      }
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
