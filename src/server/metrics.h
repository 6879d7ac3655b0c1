// Prometheus text exposition (format 0.0.4) of the server's counters, gauges and latency
// histograms, combined with the scheduler's own stats.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/scheduler.h"

namespace dsvl2::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void Observe(double v);
  // "# HELP/# TYPE" + _bucket{le=...} + _sum + _count lines.
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();
  void CountResponse(int status);
  void ObserveTtft(double seconds) { ttft_.Observe(seconds); }
  void ObserveInterToken(double seconds) { itl_.Observe(seconds); }
  void ObserveRequestDuration(double seconds) { duration_.Observe(seconds); }
  std::string Render(const SchedulerStats& s, int64_t kv_block_bytes) const;

 private:
  mutable std::mutex mu_;
  std::map<int, uint64_t> responses_;  // by HTTP status
  Histogram ttft_, itl_, duration_;
};

// Resident set size of this process (bytes), from /proc/self/statm; 0 if unavailable.
int64_t ResidentMemoryBytes();

}  // namespace dsvl2::server
