// Continuous batching: one background thread runs "steps"; each step admits waiting requests,
// then makes ONE DeepseekV2::Forward call holding a row for every decoding sequence plus at most
// `chunk_size` prompt rows of prefilling sequences (chunked prefill interleaved with decode), then
// samples every sequence whose logits came out, each with its own Sampler.
//
// Per request the tokens are those Engine::Run / Generate would give for it alone (same sampler
// semantics: repetition penalty over prompt ids + generated ids, stop ids, max_new_tokens).
//
// KV policy (all sequences share one KvPool of fixed-size blocks):
//  - Admission is FIFO. A request is admitted only when running < max_batch and its whole prompt
//    (+1 token) can be reserved now while leaving one spare block per running sequence; otherwise
//    it (and everything behind it) waits. So a prefill never runs out of space.
//  - When a decoding sequence needs a new block and the pool is empty, the most recently admitted
//    other sequence is preempted: its blocks are freed and it goes back to the front of the queue
//    keeping its embeddings, generated tokens, sampler and decoder state; on re-admission its
//    prompt + generated tokens are prefilled again (recompute) and decoding resumes with no
//    visible effect on its stream. Running sequences are never corrupted. A sequence that cannot
//    grow even when it is alone (pool smaller than prompt + output) finishes with an error.
//
// Vision: a separate vision worker thread builds each request's inputs_embeds (image encoder once
// per request, then the embedding merge) before the request enters the admission queue, so a
// large image does not stall decode steps. Both threads run their kernels through
// ThreadPool::Global(), whose ParallelFor admits one caller at a time (call_mu_): a vision kernel
// call and a decode forward's kernel calls interleave at ParallelFor granularity. That is safe
// (each call's task and ranges live on its caller's stack; the pool's shared state is guarded by
// mu_ and call_mu_, and no kernel calls ParallelFor from inside a ParallelFor task), and it means
// that decode slows down while an image is encoded but keeps producing tokens. Every callback
// still runs on the scheduler thread (a request whose vision failed or that was cancelled while
// being encoded is finished there).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"

namespace dsvl2 {

struct SchedulerOptions {
  int max_batch = 16;         // sequences running (prefilling or decoding) at once
  int64_t chunk_size = 512;   // prompt rows per step, over all prefilling sequences together
  int max_queue = 64;         // waiting requests; Submit fails beyond this (server: 503)
  KvPool* kv_pool = nullptr;  // null: the engine's pool (tests pass a small one)
};

enum class FinishReason { kStop, kLength, kCancelled, kError };
// "stop" | "length" | "cancelled" | "error" (the OpenAI finish_reason strings where they exist).
const char* FinishReasonName(FinishReason r);

struct RequestUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct RequestTimings {
  double queue_ms = 0;        // submit -> first admission
  double vision_ms = 0;       // image encoder + inputs_embeds
  double first_token_ms = 0;  // submit -> first generated token (time to first token)
  double total_ms = 0;        // submit -> finish
  int preemptions = 0;        // times its KV was dropped and recomputed
};

// One callback invocation. Token events have final == false; exactly one final event ends every
// accepted request (also when cancelled, on error, or when the scheduler is destroyed).
struct SchedulerEvent {
  uint64_t request_id = 0;
  bool final = false;
  int32_t token = -1;   // token events: the generated id
  std::string text;     // newly completed text (final event: the decoder's held-back tail)
  // Final event only:
  FinishReason finish_reason = FinishReason::kStop;
  std::string error;    // with kError
  RequestUsage usage;
  RequestTimings timings;
};

// Runs on the scheduler thread, between forward passes: it must be cheap and must not block
// (copy the event to a queue / socket buffer and return). It may call Submit() or Cancel().
using SchedulerCallback = std::function<void(const SchedulerEvent&)>;

// A consistent snapshot for /metrics.
struct SchedulerStats {
  // Counters.
  uint64_t requests_submitted = 0;
  uint64_t requests_rejected = 0;   // queue full or invalid
  uint64_t requests_finished = 0;   // any finish reason
  uint64_t requests_cancelled = 0;
  uint64_t requests_failed = 0;
  uint64_t preemptions = 0;
  uint64_t prompt_tokens = 0;       // of admitted requests (first admission)
  uint64_t generated_tokens = 0;
  uint64_t steps = 0;
  // Gauges.
  int64_t queue_length = 0;         // waiting for vision or for admission
  int64_t running = 0;
  int64_t peak_running = 0;         // most sequences in one step since the start
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
  // Time split of all steps so far (ms): step = bookkeeping + forward. vision_ms is the vision
  // worker's total (off the step path, overlapping steps).
  double step_ms = 0;
  double forward_ms = 0;
  double vision_ms = 0;
  double bookkeeping_ms = 0;
};

class Scheduler {
 public:
  // `engine` must outlive the scheduler. Starts the scheduler thread.
  explicit Scheduler(Engine& engine, const SchedulerOptions& options = {});
  // Stops the thread; every request still waiting or running gets a final kCancelled event.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request; returns its id. Errors (nothing queued, no callback made): the queue is full,
  // the prompt is empty, prompt + max_new_tokens exceeds the context, or the prompt can never fit
  // in the KV pool.
  StatusOr<uint64_t> Submit(PreparedPrompt prompt, GenerationParams params, SchedulerCallback callback);
  // Cancels a request (e.g. the client disconnected): at the next step it gets a final kCancelled
  // event and its KV blocks are freed. Unknown or finished ids are ignored.
  void Cancel(uint64_t id);
  // Blocks until every accepted request has had its final event.
  void WaitIdle();

  SchedulerStats Stats() const;

 private:
  struct Request;
  using RequestPtr = std::unique_ptr<Request>;

  void Loop();
  void VisionLoop();
  // One step; returns false when there was nothing to do.
  bool Step();
  void ApplyCancellations();
  void Admit();
  Status BuildEmbeds(Request* r);
  // Makes sure every decoding sequence has room for one more token, preempting if needed.
  void ReserveDecodeRows();
  void Preempt(size_t index);
  // Samples r's next token from `logits` (modified) and emits it; true when r is finished
  // (reason in pending_finish_).
  bool SampleAndEmit(Request* r, float* logits);
  void Finish(RequestPtr r, FinishReason reason, const std::string& error = "");
  void UpdateGauges();
  int64_t QueuedLocked() const {
    return static_cast<int64_t>(waiting_.size() + vision_queue_.size()) + (vision_busy_id_ != 0 ? 1 : 0);
  }

  Engine& engine_;
  SchedulerOptions opt_;
  KvPool* pool_;
  const DeepseekV2& lm_;
  std::vector<int32_t> eos_ids_;

  // Owned by the scheduler thread only.
  std::vector<RequestPtr> running_;  // in admission order (oldest first)
  uint64_t step_generated_ = 0;
  FinishReason pending_finish_ = FinishReason::kStop;

  mutable std::mutex mu_;
  std::condition_variable wake_;     // new work, cancellation or stop
  std::condition_variable idle_;     // active_ dropped to zero
  std::deque<RequestPtr> vision_queue_;  // guarded by mu_: accepted, embeds not built yet
  uint64_t vision_busy_id_ = 0;      // the request the vision worker holds (0: none)
  bool vision_busy_cancelled_ = false;
  bool stop_vision_ = false;
  std::condition_variable vision_wake_;
  std::deque<RequestPtr> waiting_;   // guarded by mu_: embeds ready, waiting for admission
  std::unordered_set<uint64_t> cancel_;
  uint64_t next_id_ = 1;
  int64_t active_ = 0;               // accepted and not yet finished
  bool stop_ = false;
  SchedulerStats stats_;             // guarded by mu_
  std::thread thread_;
  std::thread vision_thread_;
};

}  // namespace dsvl2
