#include "server/http_server.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include <httplib.h>

#include "base/thread_pool.h"
#include "runtime/engine.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/openai_format.h"
#include "server/socket_watch.h"
#include "server/static_assets.h"

namespace dsvl2::server {
namespace {

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(Dump(ErrorJson(e)), "application/json");
}

// Constant-time comparison of the Authorization header with "Bearer KEY".
bool Authorized(const httplib::Request& req, const std::string& key) {
  const std::string want = "Bearer " + key;
  const std::string got = req.get_header_value("Authorization");
  unsigned diff = got.size() != want.size();
  for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned>(want[i] ^ (i < got.size() ? got[i] : 0));
  return diff == 0;
}

bool NeedsAuth(const std::string& path) { return path.rfind("/v1/", 0) == 0 || path == "/metrics"; }

void ServeAsset(const std::string& name, httplib::Response& res) {
  const StaticAsset* a = FindStaticAsset(name);
  if (!a) return SendError(res, ErrorForStatus(404));
  res.set_content(reinterpret_cast<const char*>(a->data), a->size, ContentTypeFor(name));
}

}  // namespace

int RunServer(const ServerOptions& o) {
  // SIGINT/SIGTERM go to a dedicated thread (blocked here before any other thread starts, the
  // kernel thread pool included);
  // SIGPIPE (a client gone mid-write) is ignored so the write just fails.
  signal(SIGPIPE, SIG_IGN);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  if (o.kernel_threads > 0) ThreadPool::SetGlobalThreads(o.kernel_threads);
  // Per-request buffers (decoded images, tiles, embeddings, step activations) are large and
  // short-lived. With glibc's dynamic mmap threshold they end up in the heaps of the many HTTP
  // and worker threads and stay resident after a burst; a fixed threshold keeps every buffer
  // above it in its own mapping, returned to the OS on free, so memory goes back to its idle
  // level (measured: +55 MiB retained after a 96-request burst with images without this, +5 MiB
  // with it).
  mallopt(M_MMAP_THRESHOLD, 256 << 10);

  EngineOptions eo;
  eo.kv_cache_mb = o.kv_cache_mb;
  eo.weights = o.weights;
  eo.weight_memory = o.weight_memory;
  eo.matmul_precision = o.matmul_precision;
  auto engine_or = Engine::Load(o.model_dir, eo);
  if (!engine_or.ok()) {
    std::fprintf(stderr, "dsvl2 serve: %s\n", engine_or.status().message().c_str());
    return 1;
  }
  Engine& engine = **engine_or;
  ChatConfig chat = o.chat;
  if (chat.model_name.empty()) chat.model_name = std::filesystem::path(o.model_dir).lexically_normal().filename().string();
  if (chat.model_name.empty()) chat.model_name = "dsvl2";
  const int64_t created = static_cast<int64_t>(std::time(nullptr));

  Scheduler scheduler(engine, o.scheduler);
  ServerMetrics metrics;
  ChatHandler chat_handler(engine, scheduler, metrics, chat);

  httplib::Server svr;
  const int http_threads = std::max(4, o.http_threads);
  svr.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
  svr.set_payload_max_length(static_cast<size_t>(o.max_body_bytes));
  // Each SSE chunk is one small write: without TCP_NODELAY, Nagle + delayed ACK hold them ~40 ms.
  svr.set_tcp_nodelay(true);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(60, 0);
  svr.set_keep_alive_timeout(10);
  svr.set_keep_alive_max_count(10000);

  const std::string key = o.api_key;
  svr.set_pre_routing_handler([key](const httplib::Request& req, httplib::Response& res) {
    if (!key.empty() && NeedsAuth(req.path) && !Authorized(req, key)) {
      SendError(res, ErrorForStatus(401));
      res.set_header("WWW-Authenticate", "Bearer");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors the library raises itself (404, 413 body too large, ...) get the OpenAI error body.
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) SendError(res, ErrorForStatus(res.status));
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    SendError(res, {500, what, "server_error", "internal_error", ""});
  });
  svr.set_logger([&metrics](const httplib::Request&, const httplib::Response& res) { metrics.CountResponse(res.status); });

  svr.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    chat_handler.Handle(req, res);
  });
  svr.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
    nlohmann::json j = {{"object", "list"},
                        {"data", {{{"id", chat.model_name}, {"object", "model"}, {"created", created},
                                   {"owned_by", "dsvl2"}, {"max_model_len", engine.max_context()}}}}};
    res.set_content(Dump(j), "application/json");
  });
  svr.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(Dump({{"status", "ok"}, {"model", chat.model_name}}), "application/json");
  });
  svr.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.Render(scheduler.Stats(), engine.kv_pool()->bytes_per_block()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) { ServeAsset("index.html", res); });
  svr.Get(R"(/([A-Za-z0-9_.\-]+))", [](const httplib::Request& req, httplib::Response& res) {
    ServeAsset(req.matches[1].str(), res);
  });

  int port = o.port;
  if (port == 0) {
    port = svr.bind_to_any_port(o.host);
  } else if (!svr.bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port < 0) {
    std::fprintf(stderr, "dsvl2 serve: cannot listen on %s:%d\n", o.host.c_str(), o.port);
    return 1;
  }
  RaiseListenBacklog(port, 512);  // the library's backlog of 5 drops bursts of connections

  std::thread signal_thread([&svr, sigs] {
    int sig = 0;
    sigwait(&sigs, &sig);
    svr.stop();
  });
  std::fprintf(stderr, "dsvl2 serve: model %s, listening on http://%s:%d (KV cache %lld blocks x %d tokens)\n",
               chat.model_name.c_str(), o.host.c_str(), port,
               static_cast<long long>(engine.kv_pool()->num_blocks()), engine.kv_pool()->block_size());
  const bool ok = svr.listen_after_bind();
  // Wake the signal thread if the server stopped on its own.
  if (!ok) pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  std::fprintf(stderr, "dsvl2 serve: stopped\n");
  return ok ? 0 : 1;
}

}  // namespace dsvl2::server
