// Host memory for tensors. Large blocks are kept in a small cache after they
// are freed: a fresh multi-megabyte allocation costs one page fault per 4 KiB
// page on first touch (about a millisecond per 4 MiB on a VM), which would
// dominate kernels that run in a millisecond. The cache is bounded
// (SR_HOST_CACHE_MB, default 512; 0 disables it).
#pragma once
#include <cstddef>

namespace sr {

void* host_alloc(size_t bytes);  // 64-byte aligned; throws sr::Error when out of memory
void host_free(void* ptr, size_t bytes) noexcept;
size_t host_cache_bytes();       // bytes currently held by the cache

}  // namespace sr
