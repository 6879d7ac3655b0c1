// dsvl2 run: one conversation (a prompt with images, or a messages file) through the model,
// streamed as text or printed as one JSON object, with grounding boxes and timings.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "io/mapped_file.h"
#include "io/png_write.h"
#include "runtime/answer_boxes.h"
#include "runtime/engine.h"
#include "tools/args.h"
#include "tools/assets.h"
#include "vision/draw.h"
#include "vision/grounding.h"

namespace dsvl2::tools {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "usage: dsvl2 run [--model DIR] [--image PATH]... (--prompt TEXT | --messages FILE)\n"
    "                 [--system TEXT] [--max-new-tokens N] [--temperature T] [--top-p P]\n"
    "                 [--top-k K] [--repetition-penalty R] [--seed S] [--chunk-size N]\n"
    "                 [--threads N] [--format text|json] [--boxes-out PATH]\n"
    "                 [--weights bf16|q8|q4]  (convert the language model's linear weights at load)\n"
    "                 [--weight-memory map|copy|auto]  (map, the default: use the file mapping;\n"
    "                  copy: copy the weights into huge-page memory at load; auto: copy when they fit)\n"
    "                 [--copy-weights]  (= --weight-memory copy)\n"
    "                 [--matmul-precision high|medium]  (high, the default: f32 accuracy; medium:\n"
    "                  bf16 activations in prefill/vision products where the CPU has AMX or\n"
    "                  AVX-512-BF16, faster)\n";

struct Conversation {
  std::vector<Turn> turns;
};

size_t CountTags(const std::string& s) {
  size_t n = 0;
  for (size_t p = s.find("<image>"); p != std::string::npos; p = s.find("<image>", p + 7)) ++n;
  return n;
}

// --messages FILE: [{"role": ..., "content": TEXT, "images": [PATH, ...]}, ...]
StatusOr<Conversation> ReadMessages(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Error(path + ": not valid JSON");
  if (!j.is_array() || j.empty()) return Status::Error(path + ": expected a non-empty array of messages");
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  Conversation c;
  for (size_t i = 0; i < j.size(); ++i) {
    const json& m = j[i];
    const std::string where = path + ": message " + std::to_string(i);
    if (!m.is_object()) return Status::Error(where + ": not an object");
    if (!m.contains("role") || !m["role"].is_string()) return Status::Error(where + ": missing string \"role\"");
    Turn t;
    t.role = m["role"].get<std::string>();
    if (m.contains("content")) {
      if (!m["content"].is_string()) return Status::Error(where + ": \"content\" must be a string");
      t.content = m["content"].get<std::string>();
    }
    if (m.contains("images")) {
      if (!m["images"].is_array()) return Status::Error(where + ": \"images\" must be an array of paths");
      for (const json& p : m["images"]) {
        if (!p.is_string()) return Status::Error(where + ": image paths must be strings");
        std::filesystem::path ip = p.get<std::string>();
        if (ip.is_relative()) ip = base / ip;
        ASSIGN_OR_RETURN(Image img, LoadImageFile(ip.string()));
        t.images.push_back(std::move(img));
      }
    }
    c.turns.push_back(std::move(t));
  }
  return c;
}

struct Options {
  std::string model, prompt, messages, system, format = "text", boxes_out, weights;
  std::vector<std::string> images;
  GenerationParams gen;
  int threads = 0;
  bool demo = false;
  std::string weight_memory = "map";
  std::string matmul_precision = "high";
};

StatusOr<Options> ParseOptions(int argc, char** argv) {
  Args a({"model", "image", "prompt", "messages", "system", "max-new-tokens", "temperature", "top-p",
          "top-k", "repetition-penalty", "seed", "chunk-size", "threads", "format", "boxes-out",
          "weights", "weight-memory", "matmul-precision"},
         {"copy-weights"});
  RETURN_IF_ERROR(a.Parse(argc, argv));
  Options o;
  o.model = a.Get("model");
  o.prompt = a.Get("prompt");
  o.messages = a.Get("messages");
  o.system = a.Get("system");
  o.images = a.All("image");
  o.format = a.Get("format", "text");
  o.boxes_out = a.Get("boxes-out");
  o.weights = a.Get("weights");
  // One answer: the mapping loads in seconds, a copy into huge pages takes 3-20 s more for
  // vl2-tiny bf16 (docs/DESIGN.md), more than it saves on a few hundred tokens. serve and bench
  // default to auto.
  o.weight_memory = a.Has("copy-weights") ? "copy" : a.Get("weight-memory", "map");
  RETURN_IF_ERROR(CheckWeightMemory(o.weight_memory).WithContext("--weight-memory"));
  o.matmul_precision = a.Get("matmul-precision", "high");
  RETURN_IF_ERROR(CheckMatMulPrecision(o.matmul_precision).WithContext("--matmul-precision"));
  if (!o.weights.empty() && o.weights != "bf16" && o.weights != "q8" && o.weights != "q4")
    return Status::Error("--weights must be bf16, q8 or q4");
  if (o.format != "text" && o.format != "json") return Status::Error("--format must be text or json");
  if (a.Has("prompt") && a.Has("messages")) return Status::Error("give --prompt or --messages, not both");
  if (a.Has("messages") && (a.Has("image") || a.Has("system")))
    return Status::Error("--image and --system go with --prompt; put them in the messages file instead");
  ASSIGN_OR_RETURN(int64_t max_new, a.GetInt("max-new-tokens", 512, 1, 1 << 20));
  ASSIGN_OR_RETURN(double temp, a.GetDouble("temperature", 0.0, 0.0, 100.0));
  ASSIGN_OR_RETURN(double top_p, a.GetDouble("top-p", 1.0, 0.0, 1.0));
  ASSIGN_OR_RETURN(int64_t top_k, a.GetInt("top-k", 50, 0, 1 << 30));
  ASSIGN_OR_RETURN(double rp, a.GetDouble("repetition-penalty", 1.0, 1e-3, 100.0));
  ASSIGN_OR_RETURN(int64_t seed, a.GetInt("seed", 0, 0, INT64_MAX));
  ASSIGN_OR_RETURN(int64_t chunk, a.GetInt("chunk-size", 1024, -1, 1 << 30));
  ASSIGN_OR_RETURN(int64_t threads, a.GetInt("threads", 0, 0, 1024));
  if (top_p <= 0.0) return Status::Error("--top-p must be in (0, 1]");
  o.gen.max_new_tokens = static_cast<int>(max_new);
  o.gen.sampling.temperature = static_cast<float>(temp);
  o.gen.sampling.top_p = static_cast<float>(top_p);
  o.gen.sampling.top_k = static_cast<int>(top_k);
  o.gen.sampling.repetition_penalty = static_cast<float>(rp);
  o.gen.sampling.seed = static_cast<uint64_t>(seed);
  o.gen.chunk_size = chunk;
  o.threads = static_cast<int>(threads);
  return o;
}

StatusOr<Conversation> BuildConversation(Options& o) {
  if (!o.messages.empty()) return ReadMessages(o.messages);
  Conversation c;
  if (!o.system.empty()) c.turns.push_back({"system", o.system, {}});
  Turn user{"user", o.prompt, {}};
  for (const std::string& p : o.images) {
    ASSIGN_OR_RETURN(Image img, LoadImageFile(p));
    user.images.push_back(std::move(img));
  }
  // With images but no <image> tag, one "<image>\n" per image goes in front (as the web demo).
  if (!user.images.empty() && CountTags(user.content) == 0) {
    std::string prefix;
    for (size_t i = 0; i < user.images.size(); ++i) prefix += "<image>\n";
    user.content = prefix + user.content;
  }
  c.turns.push_back(std::move(user));
  return c;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "dsvl2 run: %s\n", st.message().c_str());
  return 1;
}

}  // namespace

int RunRun(int argc, char** argv) {
  auto opts_or = ParseOptions(argc, argv);
  if (!opts_or.ok()) {
    std::fprintf(stderr, "dsvl2 run: %s\n%s", opts_or.status().message().c_str(), kUsage);
    return 2;
  }
  Options o = std::move(opts_or).value();
  if (o.model.empty()) {
    const std::string assets = AssetsDir();
    if (assets.empty()) return Fail(Status::Error("no --model given and the bundled demo model was not found"));
    o.model = assets + "/demo-model";
    o.demo = true;
    if (o.prompt.empty() && o.messages.empty()) {
      o.prompt = "Describe this image.";
      if (o.images.empty()) o.images.push_back(assets + "/demo-image.png");
    }
    std::fprintf(stderr,
                 "dsvl2: no --model given: using the bundled demo model, which has RANDOM weights, so "
                 "its answers are meaningless.\n"
                 "       For real answers download e.g. deepseek-ai/deepseek-vl2-tiny from Hugging Face "
                 "and pass --model /path/to/deepseek-vl2-tiny\n");
  }
  if (o.prompt.empty() && o.messages.empty()) {
    std::fprintf(stderr, "dsvl2 run: give --prompt TEXT or --messages FILE\n%s", kUsage);
    return 2;
  }
  if (o.threads > 0) ThreadPool::SetGlobalThreads(o.threads);

  // preprocess_ms: image decoding + tiling + tokenization (model loading not counted).
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  auto t0 = Clock::now();
  auto conv = BuildConversation(o);
  if (!conv.ok()) return Fail(conv.status());
  double preprocess_ms = ms(t0, Clock::now());
  EngineOptions eopts;
  eopts.weights = o.weights;
  eopts.weight_memory = o.weight_memory;
  eopts.matmul_precision = o.matmul_precision;
  auto engine_or = Engine::Load(o.model, eopts);
  if (!engine_or.ok()) return Fail(engine_or.status());
  Engine& engine = **engine_or;
  auto t1 = Clock::now();
  auto prompt = engine.Prepare(conv->turns);
  if (!prompt.ok()) return Fail(prompt.status());
  preprocess_ms += ms(t1, Clock::now());

  const bool stream = o.format == "text";
  RunOutput out;
  Status st = engine.Run(*prompt, o.gen,
                         [&](const std::string& piece) {
                           if (stream) {
                             std::fwrite(piece.data(), 1, piece.size(), stdout);
                             std::fflush(stdout);
                           }
                           return true;
                         },
                         &out);
  if (!st.ok()) return Fail(st);
  out.timings.preprocess_ms = preprocess_ms;

  // Grounding boxes refer to the last image of the request (as the official demo draws them).
  const Image* last = prompt->source_images.empty() ? nullptr : prompt->source_images.back();
  GroundingParseResult g = ParseAnswerBoxes(prompt->source_images, out.text);
  for (const std::string& w : g.warnings) std::fprintf(stderr, "dsvl2: grounding: %s\n", w.c_str());
  if (!o.boxes_out.empty()) {
    if (!last) return Fail(Status::Error("--boxes-out needs an image"));
    std::vector<uint8_t> drawn = RenderGroundingBoxes(last->width, last->height, last->rgb.data(), g.boxes);
    Status ws = WritePng(o.boxes_out, last->width, last->height, drawn.data());
    if (!ws.ok()) return Fail(ws);
  }

  const double prefill_s = out.timings.prefill_ms / 1000.0, decode_s = out.timings.decode_ms / 1000.0;
  if (stream) {
    std::printf("\n");
    std::fprintf(stderr, "dsvl2: %lld prompt tokens, %zu generated (%s); vision %.0f ms, prefill %.1f tok/s, decode %.1f tok/s\n",
                 static_cast<long long>(out.prompt_tokens), out.token_ids.size(), out.finish_reason.c_str(),
                 out.timings.vision_ms, prefill_s > 0 ? out.prompt_tokens / prefill_s : 0.0,
                 decode_s > 0 ? out.token_ids.size() / decode_s : 0.0);
    if (!g.boxes.empty()) std::fprintf(stderr, "dsvl2: %zu grounding box(es)\n", g.boxes.size());
    return 0;
  }
  json j;
  j["model"] = o.model;
  if (o.demo) j["note"] = "bundled demo model with random weights; pass --model DIR for real answers";
  j["prompt_tokens"] = out.prompt_tokens;
  j["prompt_token_ids"] = prompt->tokens.input_ids;
  j["completion_tokens"] = out.token_ids.size();
  j["token_ids"] = out.token_ids;
  j["text"] = out.text;
  j["finish_reason"] = out.finish_reason;
  j["boxes"] = BoxesToJson(g.boxes);
  j["timings"] = {{"preprocess_ms", out.timings.preprocess_ms}, {"vision_ms", out.timings.vision_ms},
                  {"prefill_ms", out.timings.prefill_ms}, {"decode_ms", out.timings.decode_ms},
                  {"prefill_tokens_per_s", prefill_s > 0 ? out.prompt_tokens / prefill_s : 0.0},
                  {"decode_tokens_per_s", decode_s > 0 ? out.token_ids.size() / decode_s : 0.0}};
  // Invalid UTF-8 (a cut-off multi-byte character) is replaced rather than aborting the dump.
  std::printf("%s\n", j.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
  return 0;
}

}  // namespace dsvl2::tools
