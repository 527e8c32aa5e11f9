// Host memory for tensors. Freed blocks are kept in a bounded cache and handed
// out again for the next request of the same (rounded) size:
// - a fresh multi-megabyte allocation costs one page fault per 4 KiB page on
//   first touch (about a millisecond per 4 MiB on a VM), which would dominate
//   kernels that run in a millisecond;
// - small blocks from aligned_alloc are not reused by the next aligned_alloc of
//   the same size (glibc asks for the alignment as extra slack), so a loop of
//   small kernel calls grew the heap by one block per call, page faults included.
// The cache holds at most SR_HOST_CACHE_MB (default 512; 0 disables it), blocks
// under 64 KiB at most an eighth of that. Taking and returning a cached block
// allocates nothing: the free blocks of one size form a list linked through
// their own first bytes.
#pragma once
#include <cstddef>

namespace sr {

void* host_alloc(size_t bytes);  // 64-byte aligned; throws sr::Error when out of memory
void host_free(void* ptr, size_t bytes) noexcept;
size_t host_cache_bytes();  // bytes currently held by the cache

}  // namespace sr
