// Hands scheduler events (produced on the scheduler thread) to the HTTP thread that serves the
// request. The scheduler callback only appends and notifies, so it never blocks the batch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/scheduler.h"

namespace dsvl2::server {

struct TimedEvent {
  SchedulerEvent event;
  std::chrono::steady_clock::time_point at;
};

class EventQueue : public std::enable_shared_from_this<EventQueue> {
 public:
  // The callback keeps the queue alive until the scheduler drops it.
  SchedulerCallback Callback() {
    std::shared_ptr<EventQueue> self = shared_from_this();
    return [self](const SchedulerEvent& ev) {
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->events_.push_back({ev, std::chrono::steady_clock::now()});
      }
      self->cv_.notify_one();
    };
  }
  // Moves the pending events into *out, waiting up to `timeout` for at least one.
  void Wait(std::vector<TimedEvent>* out, std::chrono::milliseconds timeout) {
    out->clear();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty(); });
    for (auto& e : events_) out->push_back(std::move(e));
    events_.clear();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TimedEvent> events_;
};

}  // namespace dsvl2::server
