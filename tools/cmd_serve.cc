// dsvl2 serve: flags -> server::ServerOptions -> server::RunServer.
#include <cstdio>
#include <string>

#include "server/http_server.h"
#include "tools/args.h"
#include "tools/assets.h"

namespace dsvl2::tools {
namespace {

constexpr const char* kUsage =
    "usage: dsvl2 serve [--model DIR] [--host 127.0.0.1] [--port 8080] [--max-batch N]\n"
    "                   [--kv-cache-mb M] [--chunk-size N] [--max-queue N] [--threads N]\n"
    "                   [--api-key KEY] [--allow-local-images DIR] [--max-body-mb M]\n"
    "                   [--max-images N] [--max-image-pixels N] [--max-tokens-default N]\n"
    "                   [--http-threads N] [--model-name NAME] [--weights bf16|q8|q4]\n"
    "                   [--weight-memory auto|map|copy] [--copy-weights]\n"
    "                   [--matmul-precision high|medium]\n"
    "  --port 0 picks a free port. Without --model, the bundled demo model (random weights).\n";

StatusOr<server::ServerOptions> Parse(int argc, char** argv, int* threads) {
  Args a({"model", "host", "port", "max-batch", "kv-cache-mb", "chunk-size", "max-queue", "threads", "api-key",
          "allow-local-images", "max-body-mb", "max-images", "max-image-pixels", "max-tokens-default",
          "http-threads", "model-name", "weights", "weight-memory", "matmul-precision"},
         {"copy-weights"});
  RETURN_IF_ERROR(a.Parse(argc, argv));
  server::ServerOptions o;
  o.model_dir = a.Get("model");
  o.weights = a.Get("weights");  // checked by the model loader (ParseWeightConversion)
  o.weight_memory = a.Has("copy-weights") ? "copy" : a.Get("weight-memory", "auto");
  RETURN_IF_ERROR(CheckWeightMemory(o.weight_memory).WithContext("--weight-memory"));
  o.matmul_precision = a.Get("matmul-precision", "high");
  RETURN_IF_ERROR(CheckMatMulPrecision(o.matmul_precision).WithContext("--matmul-precision"));
  o.host = a.Get("host", "127.0.0.1");
  ASSIGN_OR_RETURN(int64_t port, a.GetInt("port", 8080, 0, 65535));
  ASSIGN_OR_RETURN(int64_t max_batch, a.GetInt("max-batch", 16, 1, 4096));
  ASSIGN_OR_RETURN(int64_t kv_mb, a.GetInt("kv-cache-mb", 1024, 1, 1 << 24));
  ASSIGN_OR_RETURN(int64_t chunk, a.GetInt("chunk-size", 512, 1, 1 << 30));
  ASSIGN_OR_RETURN(int64_t max_queue, a.GetInt("max-queue", 64, 0, 1 << 20));
  ASSIGN_OR_RETURN(int64_t thr, a.GetInt("threads", 0, 0, 1024));
  ASSIGN_OR_RETURN(int64_t body_mb, a.GetInt("max-body-mb", 32, 1, 4096));
  ASSIGN_OR_RETURN(int64_t max_images, a.GetInt("max-images", 8, 0, 1024));
  ASSIGN_OR_RETURN(int64_t max_pixels, a.GetInt("max-image-pixels", 16 << 20, 1, kDefaultMaxImagePixels));
  ASSIGN_OR_RETURN(int64_t max_tokens, a.GetInt("max-tokens-default", 512, 1, 1 << 20));
  ASSIGN_OR_RETURN(int64_t http_threads, a.GetInt("http-threads", 128, 4, 4096));
  o.port = static_cast<int>(port);
  o.kv_cache_mb = kv_mb;
  o.scheduler.max_batch = static_cast<int>(max_batch);
  o.scheduler.chunk_size = chunk;
  o.scheduler.max_queue = static_cast<int>(max_queue);
  o.http_threads = static_cast<int>(http_threads);
  o.max_body_bytes = body_mb << 20;
  o.api_key = a.Get("api-key");
  o.chat.limits.max_images = static_cast<int>(max_images);
  o.chat.limits.image.max_pixels = max_pixels;
  o.chat.limits.image.local_dir = a.Get("allow-local-images");
  o.chat.default_max_tokens = max_tokens;
  o.chat.model_name = a.Get("model-name");
  *threads = static_cast<int>(thr);
  return o;
}

}  // namespace

int RunServe(int argc, char** argv) {
  int threads = 0;
  auto o = Parse(argc, argv, &threads);
  if (!o.ok()) {
    std::fprintf(stderr, "dsvl2 serve: %s\n%s", o.status().message().c_str(), kUsage);
    return 2;
  }
  if (o->model_dir.empty()) {
    const std::string assets = AssetsDir();
    if (assets.empty()) {
      std::fprintf(stderr, "dsvl2 serve: no --model given and the bundled demo model was not found\n");
      return 2;
    }
    o->model_dir = assets + "/demo-model";
    std::fprintf(stderr, "dsvl2: no --model given: serving the bundled demo model, which has RANDOM weights.\n");
  }
  o->kernel_threads = threads;
  return server::RunServer(*o);
}

}  // namespace dsvl2::tools
