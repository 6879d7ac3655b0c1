// `dsvl2 serve`: loads the model, starts the continuous-batching scheduler and serves the
// OpenAI-compatible API, /health, /metrics and the embedded web page over HTTP (cpp-httplib).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/scheduler.h"
#include "server/chat_handler.h"

namespace dsvl2::server {

struct ServerOptions {
  std::string model_dir;
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port (the chosen one is logged)
  int64_t kv_cache_mb = 1024;
  SchedulerOptions scheduler;      // max_batch, chunk_size, max_queue
  int kernel_threads = 0;          // ThreadPool::Global() size; 0: keep the default
  int http_threads = 128;          // connections served at once (each SSE stream holds one)
  int64_t max_body_bytes = 32 << 20;
  std::string api_key;             // "": no auth
  ChatConfig chat;                 // limits, default max_tokens, model name
  std::string weights;             // EngineOptions::weights: "" (as stored), bf16, q8, q4
  std::string weight_memory = "auto";  // EngineOptions::weight_memory: auto, map, copy
  std::string matmul_precision = "high";  // EngineOptions::matmul_precision: high, medium
};

// Runs until SIGINT or SIGTERM; returns the process exit code. Prints "listening on http://H:P"
// to stderr once it accepts connections.
int RunServer(const ServerOptions& options);

}  // namespace dsvl2::server
