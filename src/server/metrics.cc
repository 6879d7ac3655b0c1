#include "server/metrics.h"

#include <unistd.h>

#include <cstdio>

#include "base/status.h"

namespace dsvl2::server {
namespace {
void Line(std::string* out, const std::string& name, const char* type, const char* help) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}
std::string Num(double v) { return StrFormat("%.9g", v); }
void Scalar(std::string* out, const std::string& name, const char* type, const char* help, double v) {
  Line(out, name, type, help);
  *out += name + " " + Num(v) + "\n";
}
}  // namespace

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  Line(out, name, "histogram", help.c_str());
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    *out += name + "_bucket{le=\"" + Num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += counts_.back();
  *out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
  *out += name + "_sum " + Num(sum_) + "\n" + name + "_count " + std::to_string(count_) + "\n";
}

ServerMetrics::ServerMetrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
      duration_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void ServerMetrics::CountResponse(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++responses_[status];
}

std::string ServerMetrics::Render(const SchedulerStats& s, int64_t kv_block_bytes) const {
  std::string out;
  Line(&out, "dsvl2_http_responses_total", "counter", "HTTP responses by status code.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [status, n] : responses_)
      out += "dsvl2_http_responses_total{code=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  }
  Line(&out, "dsvl2_requests_total", "counter", "Generation requests by outcome.");
  out += "dsvl2_requests_total{outcome=\"submitted\"} " + std::to_string(s.requests_submitted) + "\n";
  out += "dsvl2_requests_total{outcome=\"rejected\"} " + std::to_string(s.requests_rejected) + "\n";
  out += "dsvl2_requests_total{outcome=\"finished\"} " + std::to_string(s.requests_finished) + "\n";
  out += "dsvl2_requests_total{outcome=\"cancelled\"} " + std::to_string(s.requests_cancelled) + "\n";
  out += "dsvl2_requests_total{outcome=\"failed\"} " + std::to_string(s.requests_failed) + "\n";
  Scalar(&out, "dsvl2_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", s.prompt_tokens);
  Scalar(&out, "dsvl2_generated_tokens_total", "counter", "Generated tokens.", s.generated_tokens);
  Scalar(&out, "dsvl2_preemptions_total", "counter", "Sequences preempted (KV dropped, recomputed later).",
         s.preemptions);
  Scalar(&out, "dsvl2_scheduler_steps_total", "counter", "Scheduler steps (one batched forward each).", s.steps);
  Scalar(&out, "dsvl2_scheduler_step_seconds_total", "counter", "Time in scheduler steps.", s.step_ms / 1e3);
  Scalar(&out, "dsvl2_scheduler_forward_seconds_total", "counter", "Time in batched forward passes.",
         s.forward_ms / 1e3);
  Scalar(&out, "dsvl2_scheduler_bookkeeping_seconds_total", "counter",
         "Step time outside the forward pass (admission, planning, sampling, callbacks).", s.bookkeeping_ms / 1e3);
  Scalar(&out, "dsvl2_vision_seconds_total", "counter", "Vision worker time (image encoder + embeddings).",
         s.vision_ms / 1e3);
  Scalar(&out, "dsvl2_queue_length", "gauge", "Requests waiting (for vision or admission).", s.queue_length);
  Scalar(&out, "dsvl2_running_sequences", "gauge", "Sequences in the running batch.", s.running);
  Scalar(&out, "dsvl2_running_sequences_peak", "gauge", "Most sequences in one scheduler step since the start.",
         s.peak_running);
  Scalar(&out, "dsvl2_kv_blocks_used", "gauge", "KV cache blocks in use.", s.kv_blocks_used);
  Scalar(&out, "dsvl2_kv_blocks_total", "gauge", "KV cache blocks in the pool.", s.kv_blocks_total);
  Scalar(&out, "dsvl2_kv_cache_usage_ratio", "gauge", "Share of KV cache blocks in use.",
         s.kv_blocks_total > 0 ? static_cast<double>(s.kv_blocks_used) / s.kv_blocks_total : 0.0);
  Scalar(&out, "dsvl2_kv_block_bytes", "gauge", "Bytes per KV cache block.", kv_block_bytes);
  Scalar(&out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", ResidentMemoryBytes());
  ttft_.Render("dsvl2_time_to_first_token_seconds", "Request arrival to first generated token.", &out);
  itl_.Render("dsvl2_inter_token_latency_seconds", "Time between consecutive generated tokens of a request.", &out);
  duration_.Render("dsvl2_request_duration_seconds", "Request arrival to last token.", &out);
  return out;
}

int64_t ResidentMemoryBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace dsvl2::server
