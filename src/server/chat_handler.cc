#include "server/chat_handler.h"

#include <malloc.h>

#include <chrono>
#include <ctime>
#include <memory>

#include "runtime/answer_boxes.h"
#include "server/event_queue.h"
#include "server/openai_format.h"
#include "server/socket_watch.h"
#include "server/stop_matcher.h"

namespace dsvl2::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll(50);

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(Dump(ErrorJson(e)), "application/json");
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// One request's generation as the HTTP thread sees it: events in, text out.
struct Generation {
  Generation(Scheduler& s, ServerMetrics& m, std::vector<std::string> stops, Clock::time_point arrived)
      : scheduler(s), metrics(m), stop(std::move(stops)), arrived(arrived),
        queue(std::make_shared<EventQueue>()) {}

  Scheduler& scheduler;
  ServerMetrics& metrics;
  StopMatcher stop;
  Clock::time_point arrived, last_token;
  std::shared_ptr<EventQueue> queue;
  uint64_t id = 0;
  int conn_fd = -1;
  bool cancel_sent = false, done = false, any_token = false;
  std::string text;  // everything emitted so far
  SchedulerEvent final_event;
  std::vector<TimedEvent> batch;

  void Cancel() {
    if (!cancel_sent) scheduler.Cancel(id);
    cancel_sent = true;
  }

  // Waits briefly for events; returns the newly emitted text, one piece per token that completed
  // some text (so a stream sends one chunk per token). Cancels when the client is gone.
  std::vector<std::string> Poll() {
    std::vector<std::string> out;
    auto emit = [&](std::string piece) {
      if (piece.empty()) return;
      text += piece;
      out.push_back(std::move(piece));
    };
    queue->Wait(&batch, kPoll);
    for (TimedEvent& te : batch) {
      const SchedulerEvent& ev = te.event;
      if (!ev.final) {
        if (!any_token) metrics.ObserveTtft(Seconds(arrived, te.at));
        else metrics.ObserveInterToken(Seconds(last_token, te.at));
        any_token = true;
        last_token = te.at;
        emit(stop.Push(ev.text));
      } else {
        emit(stop.Push(ev.text) + stop.Flush());
        final_event = ev;
        done = true;
        metrics.ObserveRequestDuration(Seconds(arrived, te.at));
      }
      if (stop.matched()) Cancel();
    }
    if (!done && PeerGone(conn_fd)) Cancel();
    return out;
  }

  // "" for an unsuccessful end (error, or cancelled without a stop sequence).
  std::string FinishReason() const {
    if (stop.matched()) return "stop";
    switch (final_event.finish_reason) {
      case dsvl2::FinishReason::kStop: return "stop";
      case dsvl2::FinishReason::kLength: return "length";
      default: return "";
    }
  }
  ApiError Failure() const {
    if (final_event.finish_reason == dsvl2::FinishReason::kError)
      return {500, "generation failed: " + final_event.error, "server_error", "generation_failed", ""};
    return {503, "request cancelled (server shutting down)", "server_error", "cancelled", ""};
  }
  json Usage() const { return UsageJson(final_event.usage.prompt_tokens, final_event.usage.completion_tokens); }
};

// Decrements the in-flight count (and gives freed heap back to the OS when the server goes idle).
struct InFlight {
  explicit InFlight(std::atomic<int64_t>& n) : n(n) { ++n; }
  ~InFlight() {
    if (--n == 0) malloc_trim(0);
  }
  std::atomic<int64_t>& n;
};

}  // namespace

void ChatHandler::Handle(const httplib::Request& req, httplib::Response& res) {
  const Clock::time_point arrived = Clock::now();
  auto in_flight = std::make_shared<InFlight>(in_flight_);
  ChatRequest cr;
  ApiError err;
  if (!ParseChatRequest(req.body, config_.limits, &cr, &err)) return SendError(res, err);
  // The turns own the decoded images the prompt (and the boxes) point to: keep them alive.
  auto turns = std::make_shared<std::vector<Turn>>(std::move(cr.turns));
  auto prompt = engine_.Prepare(*turns);
  if (!prompt.ok()) return SendError(res, ApiError::BadRequest(prompt.status().message(), "messages"));
  const int64_t n = static_cast<int64_t>(prompt->tokens.input_ids.size());
  const int64_t ctx = engine_.max_context();
  if (n >= ctx)
    return SendError(res, ApiError::BadRequest(
                              StrFormat("the prompt is %lld tokens, longer than the model's context of %lld tokens",
                                        static_cast<long long>(n), static_cast<long long>(ctx)),
                              "messages", "context_length_exceeded"));
  if (cr.max_tokens && n + *cr.max_tokens > ctx)
    return SendError(res, ApiError::BadRequest(
                              StrFormat("max_tokens %lld + the prompt's %lld tokens exceed the model's context of %lld tokens",
                                        static_cast<long long>(*cr.max_tokens), static_cast<long long>(n),
                                        static_cast<long long>(ctx)),
                              "max_tokens", "context_length_exceeded"));
  cr.gen.max_new_tokens = static_cast<int>(cr.max_tokens ? *cr.max_tokens : std::min(config_.default_max_tokens, ctx - n));
  std::vector<const Image*> images = prompt->source_images;

  auto gen = std::make_shared<Generation>(scheduler_, metrics_, cr.stop, arrived);
  gen->conn_fd = FindConnectionFd(req.remote_addr, req.remote_port, req.local_port);
  auto id = scheduler_.Submit(std::move(prompt).value(), cr.gen, gen->queue->Callback());
  if (!id.ok()) {
    const std::string m = id.status().message();  // a copy: status() returns a temporary
    if (m.find("queue is full") != std::string::npos || m.find("shutting down") != std::string::npos)
      return SendError(res, {503, m, "server_error", "overloaded", ""});
    return SendError(res, ApiError::BadRequest(m, "messages", "context_length_exceeded"));
  }
  gen->id = *id;
  CompletionMeta meta{NewCompletionId(), static_cast<int64_t>(std::time(nullptr)), config_.model_name};

  if (!cr.stream) {
    while (!gen->done) gen->Poll();
    const std::string reason = gen->FinishReason();
    if (reason.empty()) return SendError(res, gen->Failure());
    json boxes = BoxesToJson(ParseAnswerBoxes(images, gen->text).boxes);
    res.set_content(Dump(CompletionJson(meta, gen->text, reason, gen->Usage(), boxes)), "application/json");
    return;
  }

  // Streaming: the provider is called repeatedly on this connection's thread until done().
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto sent_role = std::make_shared<bool>(false);
  const bool include_usage = cr.include_usage;
  res.set_chunked_content_provider(
      "text/event-stream",
      [gen, meta, sent_role, include_usage, images, turns, in_flight](size_t, httplib::DataSink& sink) {
        auto write = [&](const std::string& s) {
          if (sink.write(s.data(), s.size())) return true;
          gen->Cancel();  // client gone
          return false;
        };
        if (!*sent_role) {
          *sent_role = true;
          return write(SseData(ChunkJson(meta, {{"role", "assistant"}, {"content", ""}})));
        }
        const std::vector<std::string> pieces = gen->Poll();
        if (gen->cancel_sent && !gen->done && !gen->stop.matched()) return false;  // client gone
        for (const std::string& piece : pieces)
          if (!write(SseData(ChunkJson(meta, {{"content", piece}})))) return false;
        if (!gen->done) return true;
        const std::string reason = gen->FinishReason();
        if (reason.empty()) {
          if (!write(SseData(ErrorJson(gen->Failure())))) return false;
        } else {
          json last = ChunkJson(meta, json::object(), reason);
          last["boxes"] = BoxesToJson(ParseAnswerBoxes(images, gen->text).boxes);
          if (!write(SseData(last))) return false;
          if (include_usage && !write(SseData(UsageChunkJson(meta, gen->Usage())))) return false;
        }
        if (!write(kSseDone)) return false;
        sink.done();
        return true;
      },
      [gen](bool success) {
        if (!success) gen->Cancel();
      });
}

}  // namespace dsvl2::server
