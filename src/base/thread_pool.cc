#include "base/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace dsvl2 {
namespace {
std::unique_ptr<ThreadPool>& GlobalSlot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
std::mutex g_global_mu;

void RangeOf(int64_t n, int parts, int index, int64_t* b, int64_t* e) {
  int64_t base = n / parts, rem = n % parts;
  *b = index * base + std::min<int64_t>(index, rem);
  *e = *b + base + (index < rem ? 1 : 0);
}
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_start_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
// Polling rounds (pause instructions) before a thread goes to sleep: enough to bridge the gap
// between back-to-back regions; DSVL2_SPIN=N overrides (0: always sleep, as a plain condvar pool).
int SpinIterations() {
  static const int n = [] {
    const char* env = std::getenv("DSVL2_SPIN");
    return env ? std::max(0, std::atoi(env)) : 2000;
  }();
  return n;
}
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

void ThreadPool::WorkerLoop(int index) {
  const int spin_limit = SpinIterations();
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < spin_limit && !stop_.load(std::memory_order_relaxed);
         ++spin) {
      CpuRelax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_start_.wait(lock, [&] {
        return stop_.load() || generation_.load(std::memory_order_acquire) != seen;
      });
      gen = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load()) return;
    seen = gen;
    const std::function<void(int64_t, int64_t)>* task = task_;
    const int64_t n = task_n_;
    const int parts = task_parts_;
    if (index < parts) {
      int64_t b, e;
      RangeOf(n, parts, index, &b, &e);
      if (b < e) (*task)(b, e);
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Taking the lock orders this notify after a caller that is about to sleep.
      { std::lock_guard<std::mutex> lock(mu_); }
      cv_done_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int parts = static_cast<int>(std::min<int64_t>(num_threads(), (n + grain - 1) / grain));
  if (parts <= 1 || workers_.empty()) {
    fn(0, n);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mu_);
  const int spin_limit = SpinIterations();
  task_ = &fn;
  task_n_ = n;
  task_parts_ = parts;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_start_.notify_all();
  int64_t b, e;
  RangeOf(n, parts, 0, &b, &e);
  if (b < e) fn(b, e);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0 && spin < spin_limit; ++spin)
    CpuRelax();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  task_ = nullptr;
}

ThreadPool& ThreadPool::Global() {
  std::lock_guard<std::mutex> lock(g_global_mu);
  auto& slot = GlobalSlot();
  if (!slot) slot = std::make_unique<ThreadPool>(0);
  return *slot;
}

void ThreadPool::SetGlobalThreads(int n) {
  std::lock_guard<std::mutex> lock(g_global_mu);
  GlobalSlot() = std::make_unique<ThreadPool>(n);
}

}  // namespace dsvl2
