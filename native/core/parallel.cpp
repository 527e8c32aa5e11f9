#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace sr {

int num_threads() {
  static const int n = [] {
    if (const char* env = std::getenv("SR_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v >= 1) return std::min(v, 256);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return hw ? static_cast<int>(hw) : 1;
  }();
  return n;
}

int64_t chunk_count(int64_t total, int64_t min_chunk, int64_t max_chunks) {
  if (total <= 0) return 0;
  int64_t c = total / std::max<int64_t>(min_chunk, 1);
  return std::clamp<int64_t>(c, 1, std::max<int64_t>(max_chunks, 1));
}

namespace {

// Chunks are claimed from a shared counter by the caller and by whichever
// workers wake up in time. The caller waits only for workers that joined the
// job, never for sleeping ones: on a loaded machine a worker can take
// milliseconds to be scheduled, and the caller then simply runs every chunk.
class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  bool try_run(int64_t n, ChunkFn fn) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      next_.store(0);
      open_ = true;
      ++generation_;
    }
    // The caller runs chunks too: wake at most one worker per remaining chunk.
    const int64_t wake = std::min<int64_t>(n - 1, static_cast<int64_t>(threads_.size()));
    if (wake == static_cast<int64_t>(threads_.size())) {
      cv_.notify_all();
    } else {
      for (int64_t i = 0; i < wake; ++i) cv_.notify_one();
    }
    drain();
    std::unique_lock<std::mutex> lock(mu_);
    open_ = false;  // every chunk is claimed: late wakers go back to sleep
    done_cv_.wait(lock, [this] { return joined_ == 0; });
    fn_ = nullptr;
    return true;
  }

 private:
  void drain() {
    for (int64_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) (*fn_)(i);
  }

  void worker() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (open_ && generation_ != seen); });
        if (stop_) return;
        seen = generation_;
        ++joined_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mu_);
      if (--joined_ == 0 && !open_) done_cv_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex busy_, mu_;
  std::condition_variable cv_, done_cv_;
  const ChunkFn* fn_ = nullptr;  // the caller's, valid while the job runs
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
  bool open_ = false;  // the job accepts workers
  int joined_ = 0;     // workers inside drain() of the current job
  uint64_t generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  // Leaked on purpose: joining threads from a static destructor at process
  // exit can deadlock inside Node's teardown.
  static Pool* p = new Pool(num_threads() - 1);
  return *p;
}

}  // namespace

void parallel_for(int64_t n, ChunkFn fn) {
  if (n <= 0) return;
  if (n == 1 || num_threads() == 1 || !pool().try_run(n, fn)) {
    for (int64_t i = 0; i < n; ++i) fn(i);
  }
}

}  // namespace sr
