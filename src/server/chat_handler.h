// POST /v1/chat/completions: parse -> Engine::Prepare -> Scheduler::Submit, then either wait for
// the whole answer (JSON) or stream it as server-sent "chat.completion.chunk" events. A client
// that goes away (failed write, or the socket closed while waiting) has its request cancelled,
// which frees its KV blocks at the scheduler's next step.
#pragma once

#include <atomic>
#include <string>

#include <httplib.h>

#include "runtime/engine.h"
#include "runtime/scheduler.h"
#include "server/chat_request.h"
#include "server/metrics.h"

namespace dsvl2::server {

struct ChatConfig {
  ChatLimits limits;
  int64_t default_max_tokens = 512;  // when the request gives none (clipped to the context)
  std::string model_name;
};

class ChatHandler {
 public:
  ChatHandler(Engine& engine, Scheduler& scheduler, ServerMetrics& metrics, ChatConfig config)
      : engine_(engine), scheduler_(scheduler), metrics_(metrics), config_(std::move(config)) {}

  void Handle(const httplib::Request& req, httplib::Response& res);

  // Chat requests being served right now (parsing, queued, generating or streaming).
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  Engine& engine_;
  Scheduler& scheduler_;
  ServerMetrics& metrics_;
  ChatConfig config_;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace dsvl2::server
