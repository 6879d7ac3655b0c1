// A persistent thread pool with a blocking ParallelFor. Between calls workers spin briefly on an
// atomic generation counter (so back-to-back regions, e.g. the ~300 small matrix products of one
// decode step, start and finish without a futex round trip), then sleep on a condition variable.
// The hot path allocates nothing (the task is passed by reference, split into contiguous ranges).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsvl2 {

class ThreadPool {
 public:
  // num_threads counts the calling thread; 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint ranges covering [0, n), in parallel; returns when all are
  // done. `grain` is the smallest range worth giving to one thread.
  void ParallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t begin, int64_t end)>& fn);

  // The process-wide pool used by kernels (created on first use).
  static ThreadPool& Global();
  // Re-creates the global pool with n threads (call before heavy work starts).
  static void SetGlobalThreads(int n);

 private:
  void WorkerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_;
  std::condition_variable cv_done_;
  // Written by the caller before generation_ is bumped (release), read by workers after (acquire).
  const std::function<void(int64_t, int64_t)>* task_ = nullptr;
  int64_t task_n_ = 0;
  int task_parts_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex call_mu_;  // one ParallelFor at a time
};

}  // namespace dsvl2
