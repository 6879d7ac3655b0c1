// The model measurements of `dsvl2 bench`: vision tiles, prefill, batched decode with the weight
// bytes each step reads, and time to first token through the Engine.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include "tools/bench.h"

namespace dsvl2::tools::bench {
namespace {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<int32_t> RandomIds(int64_t n, int vocab, std::mt19937_64* rng) {
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& id : ids) id = dist(*rng);
  return ids;
}

int32_t Argmax(const float* v, int64_t n) {
  return static_cast<int32_t>(std::max_element(v, v + n) - v);
}

}  // namespace

VisionResult BenchVision(const DeepseekVL2& model, int64_t tiles) {
  const int64_t s = model.tile_size();
  std::vector<float> pixels(static_cast<size_t>(tiles * 3 * s * s));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& p : pixels) p = dist(rng);
  Tensor features, projected;
  const auto t0 = Clock::now();
  model.VisionFeatures(pixels.data(), tiles, &features);
  model.Project(features, &projected);
  VisionResult r;
  r.tiles = tiles;
  r.seconds = SecondsSince(t0);
  r.tiles_per_s = static_cast<double>(tiles) / r.seconds;
  r.gflop = VisionFlops(model.config(), tiles) / 1e9;
  r.gflops = r.gflop / r.seconds;
  return r;
}

StatusOr<PrefillResult> BenchPrefill(const DeepseekV2& lm, KvPool* pool, int64_t tokens,
                                     uint64_t seed) {
  const LanguageConfig& c = lm.config();
  std::mt19937_64 rng(seed);
  const std::vector<int32_t> ids = RandomIds(tokens, c.vocab_size, &rng);
  Tensor x({tokens, c.hidden_size}), logits;
  PrefillResult r;
  r.prompt_tokens = tokens;
  double total = 0;
  while (total < kPrefillMinSeconds && static_cast<int>(r.runs.size()) < kPrefillMaxRuns) {
    PagedSequenceKv kv(pool);
    const auto t0 = Clock::now();
    RETURN_IF_ERROR(lm.Embed(ids.data(), tokens, x.data()));
    RETURN_IF_ERROR(lm.Forward(x, {SeqSlice{&kv, 0, tokens}}, {tokens - 1}, &logits));
    r.runs.push_back(SecondsSince(t0));
    total += r.runs.back();
  }
  std::vector<double> sorted = r.runs;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  r.seconds = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  r.tokens_per_s = static_cast<double>(tokens) / r.seconds;
  r.gflop = LmForwardFlops(c, 0, tokens, 1) / 1e9;
  r.gflops = r.gflop / r.seconds;
  return r;
}

StatusOr<DecodeResult> BenchDecode(const DeepseekV2& lm, KvPool* pool, int batch,
                                   int64_t prompt_tokens, int steps, uint64_t seed) {
  const LanguageConfig& c = lm.config();
  const int64_t d = c.hidden_size, vocab = c.vocab_size, b = batch;
  const LmWeightBytes wb = lm.WeightBytes();
  std::mt19937_64 rng(seed);
  std::vector<std::unique_ptr<PagedSequenceKv>> kvs;
  for (int i = 0; i < batch; ++i) kvs.push_back(std::make_unique<PagedSequenceKv>(pool));

  // Prefill every sequence in one batched Forward.
  const std::vector<int32_t> ids = RandomIds(b * prompt_tokens, c.vocab_size, &rng);
  Tensor x({b * prompt_tokens, d}), logits;
  RETURN_IF_ERROR(lm.Embed(ids.data(), b * prompt_tokens, x.data()));
  std::vector<SeqSlice> slices;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < b; ++i) {
    slices.push_back({kvs[static_cast<size_t>(i)].get(), i * prompt_tokens, prompt_tokens});
    rows.push_back(i * prompt_tokens + prompt_tokens - 1);
  }
  RETURN_IF_ERROR(lm.Forward(x, slices, rows, &logits).WithContext("decode prefill"));
  std::vector<int32_t> next(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) next[static_cast<size_t>(i)] = Argmax(logits.row(i), vocab);

  // Decode: one row per sequence per Forward; step 0 is an untimed warm-up.
  slices.clear();
  rows.clear();
  for (int64_t i = 0; i < b; ++i) {
    slices.push_back({kvs[static_cast<size_t>(i)].get(), i, 1});
    rows.push_back(i);
  }
  DecodeResult r;
  r.batch = batch;
  r.steps = steps;
  r.prompt_tokens = prompt_tokens;
  ForwardTrace trace;
  x.Resize({b, d});
  double experts_sum = 0;
  int64_t experts_count = 0;
  for (int step = 0; step <= steps; ++step) {
    std::vector<int32_t> distinct = next;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    const auto t0 = Clock::now();
    RETURN_IF_ERROR(lm.Embed(next.data(), b, x.data()));
    RETURN_IF_ERROR(lm.Forward(x, slices, rows, &logits, &trace).WithContext("decode step"));
    for (int64_t i = 0; i < b; ++i) next[static_cast<size_t>(i)] = Argmax(logits.row(i), vocab);
    const double s = SecondsSince(t0);
    if (step == 0) continue;
    r.step_seconds.push_back(s);
    r.step_bytes.push_back(wb.StepBytes(static_cast<int64_t>(distinct.size()), trace.used_experts));
    for (const auto& layer : trace.used_experts) {
      experts_sum += static_cast<double>(layer.size());
      ++experts_count;
    }
  }
  for (double s : r.step_seconds) r.seconds += s;
  double bytes = 0;
  for (int64_t v : r.step_bytes) bytes += static_cast<double>(v);
  r.tokens_per_s = static_cast<double>(b) * steps / r.seconds;
  r.bytes_per_step = steps > 0 ? bytes / steps : 0;
  r.mean_routed_experts = experts_count > 0 ? experts_sum / static_cast<double>(experts_count) : 0;
  return r;
}

void Roofline(double bandwidth_gbs, DecodeResult* r) {
  double seconds = 0;
  for (int64_t v : r->step_bytes) seconds += static_cast<double>(v) / (bandwidth_gbs * 1e9);
  r->roofline_tokens_per_s = seconds > 0 ? static_cast<double>(r->batch) * r->steps / seconds : 0;
  r->fraction_of_roofline =
      r->roofline_tokens_per_s > 0 ? r->tokens_per_s / r->roofline_tokens_per_s : 0;
}

Image SyntheticImage(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.resize(static_cast<size_t>(width) * height * 3);
  uint32_t noise = 12345;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      noise = noise * 1664525u + 1013904223u;
      const int n = static_cast<int>(noise >> 28);  // 0..15
      const bool disc =
          std::hypot(x - width * 0.35, y - height * 0.5) < std::min(width, height) * 0.2;
      const bool bar = (x / 32 + y / 32) % 7 == 0;
      uint8_t* p = &img.rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(disc ? 220 : (255 * x / std::max(1, width - 1)) ^ n);
      p[1] = static_cast<uint8_t>(bar ? 30 : (255 * y / std::max(1, height - 1)) ^ n);
      p[2] = static_cast<uint8_t>(disc ? 40 : 128 + n * 4);
    }
  }
  return img;
}

StatusOr<TtftResult> BenchTtft(Engine& engine, int width, int height) {
  std::vector<Turn> turns;
  turns.push_back({"user", "<image>\nWhat is in this picture?", {}});
  turns[0].images.push_back(SyntheticImage(width, height));
  GenerationParams gen;
  gen.max_new_tokens = 1;
  gen.sampling.temperature = 0.0f;
  RunOutput out;
  const auto t0 = Clock::now();
  ASSIGN_OR_RETURN(PreparedPrompt prompt, engine.Prepare(turns));
  const double preprocess_s = SecondsSince(t0);
  RETURN_IF_ERROR(engine.Run(prompt, gen, nullptr, &out));
  TtftResult r;
  r.ms = SecondsSince(t0) * 1e3;
  r.image = std::to_string(width) + "x" + std::to_string(height);
  r.tiles_w = prompt.spatial_crop.empty() ? 0 : prompt.spatial_crop[0].first;
  r.tiles_h = prompt.spatial_crop.empty() ? 0 : prompt.spatial_crop[0].second;
  r.prompt_tokens = out.prompt_tokens;
  r.preprocess_ms = preprocess_s * 1e3;
  r.vision_ms = out.timings.vision_ms;
  r.prefill_ms = out.timings.prefill_ms;
  return r;
}

}  // namespace dsvl2::tools::bench
