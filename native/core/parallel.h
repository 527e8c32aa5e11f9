// A small persistent thread pool for the CPU kernels. Work is split into a
// fixed number of chunks chosen by the kernel (not by the thread count), so
// results, reductions included, are identical whatever the number of threads
// and whichever thread runs a chunk.
#pragma once
#include <cstdint>
#include <memory>
#include <type_traits>

namespace sr {

// Threads used by CPU kernels: SR_NUM_THREADS if set, else the hardware's.
int num_threads();

// A non-owning reference to a callable taking a chunk index. parallel_for
// calls it only before it returns, so a lambda (even a temporary) is referred
// to, never copied: std::function would heap-allocate the captures of most
// kernels' lambdas on every call.
class ChunkFn {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkFn>>>
  ChunkFn(F&& f)  // NOLINT: implicit, so that call sites pass lambdas as before
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, int64_t i) { (*static_cast<std::remove_reference_t<F>*>(obj))(i); }) {}
  void operator()(int64_t i) const { call_(obj_, i); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t);
};

// Runs fn(i) for every i in [0, n). A single chunk runs on the calling thread
// with no synchronisation at all (the kernels' minimum chunk sizes make that
// the case for small inputs); otherwise the caller and the pool's workers
// claim chunks, and the caller waits only for workers that took part. fn must
// not throw. If the pool is busy (a parallel_for from another thread), runs
// serially on the caller instead of waiting.
void parallel_for(int64_t n, ChunkFn fn);

// Splits [0, total) into at most max_chunks contiguous ranges of at least
// min_chunk elements; returns the chunk count. Chunk c is
// [c * size, min(total, (c + 1) * size)) with size = chunk_size(total, chunks).
int64_t chunk_count(int64_t total, int64_t min_chunk, int64_t max_chunks);
inline int64_t chunk_size(int64_t total, int64_t chunks) { return chunks ? (total + chunks - 1) / chunks : 0; }

}  // namespace sr
