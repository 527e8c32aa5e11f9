// A small persistent thread pool for the CPU kernels. Work is split into a
// fixed number of chunks chosen by the kernel (not by the thread count), so
// results, reductions included, are identical whatever the number of threads.
#pragma once
#include <cstdint>
#include <functional>

namespace sr {

// Threads used by CPU kernels: SR_NUM_THREADS if set, else the hardware's.
int num_threads();

// Runs fn(i) for every i in [0, n), spread over the pool; the calling thread
// takes part. fn must not throw. If the pool is busy (another parallel_for
// from another thread), runs serially on the caller instead of waiting.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

// Splits [0, total) into at most max_chunks contiguous ranges of at least
// min_chunk elements; returns the chunk count. Chunk c is
// [c * size, min(total, (c + 1) * size)) with size = chunk_size(total, chunks).
int64_t chunk_count(int64_t total, int64_t min_chunk, int64_t max_chunks);
inline int64_t chunk_size(int64_t total, int64_t chunks) { return chunks ? (total + chunks - 1) / chunks : 0; }

}  // namespace sr
