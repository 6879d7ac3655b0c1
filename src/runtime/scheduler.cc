#include "runtime/scheduler.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "base/logging.h"
#include "tokenizer/stream_decoder.h"

namespace dsvl2 {
namespace {
using Clock = std::chrono::steady_clock;
double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kError: return "error";
  }
  return "error";
}

struct Scheduler::Request {
  uint64_t id = 0;
  PreparedPrompt prompt;
  GenerationParams params;  // stop_ids include EOS
  SchedulerCallback callback;
  Clock::time_point submitted;
  bool admitted_once = false;
  bool embeds_ready = false;
  std::string vision_error;               // set by the vision worker; finished at admission
  Tensor embeds;                          // [prompt, hidden]; kept for recompute after preemption
  std::unique_ptr<PagedSequenceKv> kv;    // null while waiting
  int64_t prefilled = 0;                  // tokens in kv (== kv->length())
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamDecoder> decoder;
  std::vector<int32_t> history;           // repetition-penalty ids (prompt? + generated)
  std::vector<int32_t> generated;
  RequestTimings timings;

  int64_t prompt_len() const { return static_cast<int64_t>(prompt.tokens.input_ids.size()); }
  // Rows to prefill: the prompt, plus (after a preemption) every generated token but the last,
  // which is the next decode input.
  int64_t PrefillTarget() const {
    return prompt_len() + std::max<int64_t>(0, static_cast<int64_t>(generated.size()) - 1);
  }
  bool decoding() const { return !generated.empty() && prefilled == PrefillTarget(); }
};

Scheduler::Scheduler(Engine& engine, const SchedulerOptions& options)
    : engine_(engine), opt_(options),
      pool_(options.kv_pool ? options.kv_pool : engine.kv_pool()),
      lm_(engine.model().language()) {
  opt_.max_batch = std::max(1, opt_.max_batch);
  if (opt_.chunk_size <= 0) opt_.chunk_size = std::numeric_limits<int64_t>::max();
  if (auto eos = engine_.tokenizer().eos_id()) eos_ids_.push_back(*eos);
  stats_.kv_blocks_total = pool_->num_blocks();
  thread_ = std::thread([this] { Loop(); });
  vision_thread_ = std::thread([this] { VisionLoop(); });
}

Scheduler::~Scheduler() {
  // The vision worker stops first (handing back the request it holds), then the scheduler thread
  // cancels everything still queued or running.
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_vision_ = true;
  }
  vision_wake_.notify_all();
  vision_thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Scheduler::VisionLoop() {
  for (;;) {
    RequestPtr r;
    {
      std::unique_lock<std::mutex> lock(mu_);
      vision_wake_.wait(lock, [&] { return stop_vision_ || !vision_queue_.empty(); });
      if (stop_vision_) return;
      r = std::move(vision_queue_.front());
      vision_queue_.pop_front();
      vision_busy_id_ = r->id;
      vision_busy_cancelled_ = false;
    }
    Status st = r->params.max_new_tokens > 0 ? BuildEmbeds(r.get()) : Status::Ok();
    if (!st.ok()) r->vision_error = st.message().empty() ? "vision encoder failed" : st.message();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.vision_ms += r->timings.vision_ms;
      // Cancelled while encoding: the scheduler thread finishes it at its next step.
      if (vision_busy_cancelled_) cancel_.insert(r->id);
      vision_busy_id_ = 0;
      waiting_.push_back(std::move(r));
    }
    wake_.notify_all();
  }
}

StatusOr<uint64_t> Scheduler::Submit(PreparedPrompt prompt, GenerationParams params,
                                     SchedulerCallback callback) {
  const int64_t n = static_cast<int64_t>(prompt.tokens.input_ids.size());
  const int64_t pool_tokens = pool_->num_blocks() * pool_->block_size();
  Status error;
  if (n == 0) {
    error = Status::Error("empty prompt");
  } else if (n + params.max_new_tokens > engine_.max_context()) {
    error = Status::Error(StrFormat("prompt of %lld tokens + %d new tokens exceeds the model's context of %lld tokens",
                                    static_cast<long long>(n), params.max_new_tokens,
                                    static_cast<long long>(engine_.max_context())));
  } else if (n + 1 > pool_tokens) {
    error = Status::Error(StrFormat("prompt of %lld tokens does not fit in the KV cache (%lld tokens)",
                                    static_cast<long long>(n), static_cast<long long>(pool_tokens)));
  }
  auto r = std::make_unique<Request>();
  r->prompt = std::move(prompt);
  r->params = std::move(params);
  r->params.stop_ids.insert(r->params.stop_ids.end(), eos_ids_.begin(), eos_ids_.end());
  r->callback = std::move(callback);
  r->submitted = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (error.ok() && stop_) error = Status::Error("scheduler is shutting down");
  if (error.ok() && QueuedLocked() >= opt_.max_queue)
    error = Status::Error(StrFormat("request queue is full (%d waiting)", opt_.max_queue));
  if (!error.ok()) {
    ++stats_.requests_rejected;
    return error;
  }
  r->id = next_id_++;
  const uint64_t id = r->id;
  vision_queue_.push_back(std::move(r));
  ++active_;
  ++stats_.requests_submitted;
  stats_.queue_length = QueuedLocked();
  vision_wake_.notify_all();
  return id;
}

void Scheduler::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_.insert(id);
  }
  wake_.notify_all();
}

void Scheduler::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return active_ == 0; });
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  SchedulerStats s = stats_;
  s.queue_length = QueuedLocked();
  s.kv_blocks_total = pool_->num_blocks();
  s.kv_blocks_used = s.kv_blocks_total - pool_->free_blocks();
  return s;
}

void Scheduler::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !waiting_.empty() || !cancel_.empty() || !running_.empty(); });
      if (stop_) break;
    }
    if (!Step()) {
      // Nothing could run (e.g. the shared pool is held by someone else): poll gently.
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(5), [&] { return stop_ || !cancel_.empty(); });
    }
  }
  // Shutdown: everything still accepted ends as cancelled.
  std::deque<RequestPtr> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
    for (auto& r : vision_queue_) waiting.push_back(std::move(r));
    vision_queue_.clear();
  }
  for (auto& r : running_) Finish(std::move(r), FinishReason::kCancelled);
  running_.clear();
  for (auto& r : waiting) Finish(std::move(r), FinishReason::kCancelled);
  UpdateGauges();
}

void Scheduler::ApplyCancellations() {
  std::unordered_set<uint64_t> ids;
  std::vector<RequestPtr> from_queue;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ids.swap(cancel_);
    if (ids.empty()) return;
    if (vision_busy_id_ != 0 && ids.count(vision_busy_id_)) vision_busy_cancelled_ = true;
    for (auto* q : {&waiting_, &vision_queue_}) {
      for (auto it = q->begin(); it != q->end();) {
        if (ids.count((*it)->id)) {
          from_queue.push_back(std::move(*it));
          it = q->erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& r : from_queue) Finish(std::move(r), FinishReason::kCancelled);
  for (size_t i = 0; i < running_.size();) {
    if (ids.count(running_[i]->id)) {
      RequestPtr r = std::move(running_[i]);
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
      Finish(std::move(r), FinishReason::kCancelled);
    } else {
      ++i;
    }
  }
}

Status Scheduler::BuildEmbeds(Request* r) {
  const auto t0 = Clock::now();
  const DeepseekVL2& model = engine_.model();
  std::vector<Tensor> image_embeds(r->prompt.images.size());
  for (size_t i = 0; i < r->prompt.images.size(); ++i)
    RETURN_IF_ERROR(model.EncodeImage(r->prompt.images[i], &image_embeds[i]));
  RETURN_IF_ERROR(model.BuildInputsEmbeds(r->prompt.tokens.input_ids, r->prompt.tokens.images_seq_mask,
                                          image_embeds, &r->embeds));
  r->prompt.images.clear();  // pixels are no longer needed
  r->prompt.images.shrink_to_fit();
  r->embeds_ready = true;
  r->timings.vision_ms = MsBetween(t0, Clock::now());
  return Status::Ok();
}

void Scheduler::Admit() {
  const int64_t bs = pool_->block_size();
  for (;;) {
    RequestPtr r;
    bool never_fits = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (waiting_.empty() || static_cast<int>(running_.size()) >= opt_.max_batch) return;
      Request* front = waiting_.front().get();
      if (front->params.max_new_tokens > 0 && front->vision_error.empty()) {
        const int64_t need = front->PrefillTarget() + 1;
        const int64_t blocks = (need + bs - 1) / bs;
        // Keep one spare block per running sequence so admission does not force preemptions.
        const int64_t headroom = static_cast<int64_t>(running_.size());
        if (blocks > pool_->num_blocks()) {
          never_fits = true;
        } else {
          if (pool_->free_blocks() < blocks + headroom) return;
          auto kv = std::make_unique<PagedSequenceKv>(pool_);
          if (!kv->Reserve(need).ok()) return;  // raced with another pool user
          front->kv = std::move(kv);
        }
      }
      r = std::move(waiting_.front());
      waiting_.pop_front();
    }
    if (never_fits) {
      Finish(std::move(r), FinishReason::kError, "sequence does not fit in the KV cache");
      continue;
    }
    if (!r->admitted_once) {
      r->admitted_once = true;
      r->timings.queue_ms = MsBetween(r->submitted, Clock::now());
      r->sampler = std::make_unique<Sampler>(r->params.sampling);
      r->decoder = std::make_unique<StreamDecoder>(engine_.tokenizer());
      if (r->params.penalize_prompt_ids) r->history = r->prompt.tokens.input_ids;
      std::lock_guard<std::mutex> lock(mu_);
      stats_.prompt_tokens += static_cast<uint64_t>(r->prompt_len());
    }
    if (r->params.max_new_tokens <= 0) {  // Generate: no tokens, "length"
      Finish(std::move(r), FinishReason::kLength);
      continue;
    }
    if (!r->vision_error.empty() || !r->embeds_ready) {
      Finish(std::move(r), FinishReason::kError,
             r->vision_error.empty() ? "inputs_embeds missing" : r->vision_error);
      continue;
    }
    running_.push_back(std::move(r));
  }
}

void Scheduler::Preempt(size_t index) {
  RequestPtr r = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  r->kv.reset();  // frees its blocks
  r->prefilled = 0;
  ++r->timings.preemptions;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.preemptions;
  waiting_.push_front(std::move(r));
}

void Scheduler::ReserveDecodeRows() {
  size_t i = 0;
  while (i < running_.size()) {
    Request* r = running_[i].get();
    if (!r->decoding() || r->kv->Reserve(1).ok()) {
      ++i;
      continue;
    }
    // No block for this sequence's next token: preempt the youngest sequence (maybe itself).
    const size_t youngest = running_.size() - 1;
    if (youngest == i && i == 0) {
      RequestPtr alone = std::move(running_[0]);
      running_.erase(running_.begin());
      Finish(std::move(alone), FinishReason::kError,
             "KV cache full: the sequence does not fit even when running alone");
      continue;
    }
    Preempt(youngest);
    // Retry the same index (if it was itself preempted, the loop ends at i == size).
  }
}

bool Scheduler::SampleAndEmit(Request* r, float* logits) {
  const int64_t vocab = lm_.config().vocab_size;
  const int32_t tok = r->sampler->Next(logits, vocab, r->history);
  r->generated.push_back(tok);
  r->history.push_back(tok);
  if (r->generated.size() == 1) r->timings.first_token_ms = MsBetween(r->submitted, Clock::now());
  ++step_generated_;
  SchedulerEvent ev;
  ev.request_id = r->id;
  ev.token = tok;
  ev.text = r->decoder->Push(tok);
  if (r->callback) r->callback(ev);
  const auto& stops = r->params.stop_ids;
  if (std::find(stops.begin(), stops.end(), tok) != stops.end()) {
    pending_finish_ = FinishReason::kStop;
    return true;
  }
  if (static_cast<int64_t>(r->generated.size()) >= r->params.max_new_tokens) {
    pending_finish_ = FinishReason::kLength;
    return true;
  }
  return false;
}

void Scheduler::Finish(RequestPtr r, FinishReason reason, const std::string& error) {
  SchedulerEvent ev;
  ev.request_id = r->id;
  ev.final = true;
  if (r->decoder) ev.text = r->decoder->Flush();
  ev.finish_reason = reason;
  ev.error = error;
  ev.usage.prompt_tokens = r->prompt_len();
  ev.usage.completion_tokens = static_cast<int64_t>(r->generated.size());
  r->timings.total_ms = MsBetween(r->submitted, Clock::now());
  ev.timings = r->timings;
  r->kv.reset();  // blocks are free before the client hears about the end
  if (r->callback) r->callback(ev);
  std::lock_guard<std::mutex> lock(mu_);
  // Publish this step's counters before anyone waiting on active_ can look at them.
  stats_.generated_tokens += step_generated_;
  step_generated_ = 0;
  stats_.running = static_cast<int64_t>(
      std::count_if(running_.begin(), running_.end(), [](const RequestPtr& p) { return p != nullptr; }));
  ++stats_.requests_finished;
  if (reason == FinishReason::kCancelled) ++stats_.requests_cancelled;
  if (reason == FinishReason::kError) ++stats_.requests_failed;
  if (--active_ == 0) idle_.notify_all();
}

void Scheduler::UpdateGauges() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.running = static_cast<int64_t>(running_.size());
  stats_.queue_length = QueuedLocked();
}

bool Scheduler::Step() {
  const auto t0 = Clock::now();
  step_generated_ = 0;
  ApplyCancellations();
  Admit();
  if (running_.empty()) {
    UpdateGauges();
    return false;
  }
  ReserveDecodeRows();

  // Plan the batch: one row per decoding sequence, then prompt chunks up to chunk_size rows.
  struct Entry {
    Request* r;
    int64_t start, n;
    bool prefill, wants_logits;
  };
  std::vector<Entry> plan;
  int64_t rows = 0, budget = opt_.chunk_size;
  for (auto& rp : running_) {
    Request* r = rp.get();
    if (r->decoding()) {
      plan.push_back({r, rows, 1, false, true});
      rows += 1;
    } else if (budget > 0) {
      const int64_t n = std::min(budget, r->PrefillTarget() - r->prefilled);
      if (n <= 0) continue;
      budget -= n;
      const bool last = r->prefilled + n == r->PrefillTarget();
      plan.push_back({r, rows, n, true, last && r->generated.empty()});
      rows += n;
    }
  }
  const int64_t d = lm_.config().hidden_size;
  Tensor x({rows, d}), logits;
  std::vector<SeqSlice> slices;
  std::vector<int64_t> logit_rows;
  Status st;
  for (const Entry& e : plan) {
    Request* r = e.r;
    slices.push_back({r->kv.get(), e.start, e.n});
    if (e.wants_logits) logit_rows.push_back(e.start + e.n - 1);
    if (!e.prefill) {
      if (st.ok()) st = lm_.Embed(&r->generated.back(), 1, x.row(e.start));
      continue;
    }
    const int64_t t = r->prompt_len();
    for (int64_t i = 0; i < e.n; ++i) {
      const int64_t pos = r->prefilled + i;
      float* dst = x.row(e.start + i);
      if (pos < t)
        std::copy(r->embeds.row(pos), r->embeds.row(pos) + d, dst);
      else
        if (st.ok()) st = lm_.Embed(&r->generated[static_cast<size_t>(pos - t)], 1, dst);
    }
  }
  const auto tf = Clock::now();
  if (st.ok()) st = lm_.Forward(x, slices, logit_rows, &logits);
  const double forward_ms = MsBetween(tf, Clock::now());

  // Results: advance prefills, sample where logits came out, finish sequences that ended.
  std::vector<std::pair<Request*, FinishReason>> finished;
  int64_t k = 0;
  for (const Entry& e : plan) {
    if (!st.ok()) {
      finished.push_back({e.r, FinishReason::kError});
      continue;
    }
    e.r->prefilled += e.n;  // == kv->length()
    if (!e.wants_logits) continue;
    if (SampleAndEmit(e.r, logits.row(k++))) finished.push_back({e.r, pending_finish_});
  }
  for (auto& [r, reason] : finished) {
    auto it = std::find_if(running_.begin(), running_.end(), [&](const RequestPtr& p) { return p.get() == r; });
    RequestPtr owned = std::move(*it);
    running_.erase(it);
    Finish(std::move(owned), reason, reason == FinishReason::kError ? st.message() : "");
  }

  const double step_ms = MsBetween(t0, Clock::now());
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.steps;
    stats_.peak_running = std::max<int64_t>(stats_.peak_running, static_cast<int64_t>(plan.size()));
    stats_.generated_tokens += step_generated_;
    stats_.step_ms += step_ms;
    stats_.forward_ms += forward_ms;
    stats_.bookkeeping_ms += step_ms - forward_ms;
    stats_.running = static_cast<int64_t>(running_.size());
    stats_.queue_length = QueuedLocked();
  }
  return true;
}

}  // namespace dsvl2
