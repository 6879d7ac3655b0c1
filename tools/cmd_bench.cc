// dsvl2 bench: machine limits (memory bandwidth, peak multiply-add rates) and the model's speed
// against them: vision tiles/s and prefill tokens/s with GFLOP/s and the fraction of the f32 FMA
// peak, batched decode tokens/s against the bandwidth roofline of the weight bytes each step
// reads, time to first token for one image, and peak RSS. Text or one JSON object on stdout;
// progress on stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "kernels/microbench.h"
#include "tools/args.h"
#include "tools/assets.h"
#include "tools/bench.h"

namespace dsvl2::tools {
namespace {

using nlohmann::ordered_json;
namespace mb = kernels::microbench;

constexpr const char* kUsage =
    "usage: dsvl2 bench [--model DIR] [--weights bf16|q8|q4] [--threads N] [--format text|json]\n"
    "                   [--prompt-lengths 128,512,1024] [--batches 1,4,16] [--decode-steps N]\n"
    "                   [--vision-tiles N] [--images 640x480,1920x1080] [--quick]\n"
    "                   [--weight-memory auto|map|copy] [--copy-weights]\n"
    "                   [--matmul-precision high|medium]\n"
    "Measures memory bandwidth and peak multiply-add rates, then the model: vision tiles/s,\n"
    "prefill tokens/s, batched decode tokens/s against the bandwidth roofline, time to first\n"
    "token per image size, peak RSS. --quick: short settings (smoke test, not for numbers).\n";

struct Options {
  std::string model, weights, format = "text";
  std::string weight_memory = "auto";
  std::string matmul_precision = "high";
  int threads = 0;
  std::vector<int64_t> prompt_lengths{128, 512, 1024};
  std::vector<int64_t> batches{1, 4, 16};
  int decode_steps = 8;
  int64_t decode_prompt = 32;
  int64_t vision_tiles = 2;
  std::vector<std::pair<int, int>> images{{640, 480}, {1920, 1080}};
  size_t bandwidth_bytes = size_t{1} << 30;
  int bandwidth_passes = 10;
  double peak_seconds = 0.1;
  int peak_repeats = 5;
  bool quick = false;
};

StatusOr<std::vector<int64_t>> ParseList(const std::string& flag, const std::string& s,
                                         int64_t max) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    const std::string item = s.substr(pos, comma - pos);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > max)
      return Status::Error(
          StrFormat("--%s: expected comma-separated integers in [1, %lld], got '%s'", flag.c_str(),
                    static_cast<long long>(max), s.c_str()));
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

StatusOr<std::vector<std::pair<int, int>>> ParseSizes(const std::string& s) {
  std::vector<std::pair<int, int>> out;
  if (s.empty()) return out;  // --images '': skip the time-to-first-token part
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    const std::string item = s.substr(pos, comma - pos);
    int w = 0, h = 0;
    char tail = 0;
    if (std::sscanf(item.c_str(), "%dx%d%c", &w, &h, &tail) != 2 || w < 1 || h < 1 || w > 16384 ||
        h > 16384)
      return Status::Error(
          "--images: expected comma-separated WIDTHxHEIGHT sizes (1..16384), got '" + s + "'");
    out.push_back({w, h});
    pos = comma + 1;
  }
  return out;
}

StatusOr<Options> ParseOptions(int argc, char** argv) {
  Args a({"model", "weights", "threads", "format", "prompt-lengths", "batches", "decode-steps", "weight-memory", "matmul-precision",
          "vision-tiles", "images"},
         {"quick", "copy-weights"});
  RETURN_IF_ERROR(a.Parse(argc, argv));
  Options o;
  o.quick = a.Has("quick");
  if (o.quick) {
    o.prompt_lengths = {32, 128};
    o.batches = {1, 4};
    o.decode_steps = 4;
    o.decode_prompt = 8;
    o.vision_tiles = 1;
    o.images = {{640, 480}};
    o.bandwidth_bytes = size_t{256} << 20;
    o.bandwidth_passes = 2;
    o.peak_seconds = 0.05;
    o.peak_repeats = 1;
  }
  o.model = a.Get("model");
  o.weights = a.Get("weights");
  o.weight_memory = a.Has("copy-weights") ? "copy" : a.Get("weight-memory", "auto");
  RETURN_IF_ERROR(CheckWeightMemory(o.weight_memory).WithContext("--weight-memory"));
  o.matmul_precision = a.Get("matmul-precision", "high");
  RETURN_IF_ERROR(CheckMatMulPrecision(o.matmul_precision).WithContext("--matmul-precision"));
  o.format = a.Get("format", "text");
  if (o.format != "text" && o.format != "json")
    return Status::Error("--format must be text or json");
  if (!o.weights.empty() && o.weights != "bf16" && o.weights != "q8" && o.weights != "q4")
    return Status::Error("--weights must be bf16, q8 or q4 (omit it to use the weights as stored)");
  ASSIGN_OR_RETURN(int64_t threads, a.GetInt("threads", 0, 0, 1024));
  o.threads = static_cast<int>(threads);
  if (a.Has("prompt-lengths")) {
    ASSIGN_OR_RETURN(o.prompt_lengths,
                     ParseList("prompt-lengths", a.Get("prompt-lengths"), 1 << 20));
  }
  if (a.Has("batches")) {
    ASSIGN_OR_RETURN(o.batches, ParseList("batches", a.Get("batches"), 4096));
  }
  ASSIGN_OR_RETURN(int64_t steps, a.GetInt("decode-steps", o.decode_steps, 1, 1 << 20));
  o.decode_steps = static_cast<int>(steps);
  ASSIGN_OR_RETURN(o.vision_tiles, a.GetInt("vision-tiles", o.vision_tiles, 0, 1024));
  if (a.Has("images")) {
    ASSIGN_OR_RETURN(o.images, ParseSizes(a.Get("images")));
  }
  return o;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "dsvl2 bench: %s\n", st.message().c_str());
  return 1;
}

void Progress(const std::string& what) { std::fprintf(stderr, "bench: %s\n", what.c_str()); }

// Weight format as stored, named as --weights names it (bf16 | q8 | q4; other dtypes lower case):
// the dtype holding most of the language model's bytes. (A model written by `dsvl2 quantize` had
// been reported as "q8_0", which also kept its prefill measured against the float peak.)
std::string StoredFormat(const LmWeightBytes& w) {
  std::string best;
  int64_t most = -1;
  for (const auto& [name, bytes] : w.by_dtype)
    if (bytes > most) most = bytes, best = name;
  for (char& ch : best) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (best == "q8_0") return "q8";
  if (best == "q4_0") return "q4";
  return best;
}

std::string Fixed(double v, int digits) { return StrFormat("%.*f", digits, v); }

void PrintText(const ordered_json& j) {
  const auto& m = j["machine"];
  std::printf("model        %s\n", j["model"].get<std::string>().c_str());
  const bool medium = j["matmul_precision"] == "medium";
  std::printf("weights      %s (%s), matmul precision %s%s\n", j["weights"].get<std::string>().c_str(),
              j["weight_memory"] == "copy" ? "copied into memory" : "file mapping",
              j["matmul_precision"].get<std::string>().c_str(),
              !medium                      ? ""
              : j["bf16_activations"].get<bool>() ? " (bf16 activations)"
                                           : " (f32 kernels: bf16 products are not faster on this CPU)");
  std::printf("machine      %s, %d cores, %d threads, kernels %s\n",
              m["cpu_model"].get<std::string>().c_str(), m["cores"].get<int>(),
              m["threads"].get<int>(), m["isa"].get<std::string>().c_str());
  std::printf("memory bandwidth   %s GB/s (read, all threads)\n",
              Fixed(j["memory_bandwidth_gbs"], 1).c_str());
  for (const auto& [name, p] : j["peak_gflops"].items())
    std::printf("peak %-18s %9s %s 1 thread, %9s all threads\n", name.c_str(),
                Fixed(p["one_thread"], 1).c_str(), p["unit"].get<std::string>().c_str(),
                Fixed(p["all_threads"], 1).c_str());
  const std::string ref = j["reference_peak"]["kernel"].get<std::string>();
  const std::string vbest = j["best_isa_peak"]["vision"]["kernel"].get<std::string>();
  const std::string pbest = j["best_isa_peak"]["prefill"]["kernel"].get<std::string>();
  if (j.contains("vision"))
    std::printf("vision       %s tiles/s (%lld tiles, %s GFLOP/s, %s of %s, %s of %s)\n",
                Fixed(j["vision_tiles_per_s"], 3).c_str(), j["vision"]["tiles"].get<long long>(),
                Fixed(j["vision"]["gflops"], 1).c_str(),
                Fixed(j["vision"]["fraction_of_peak"], 3).c_str(), ref.c_str(),
                Fixed(j["vision"]["fraction_of_best_isa_peak"], 3).c_str(), vbest.c_str());
  for (const auto& p : j["prefill"])
    std::printf("prefill %5lld tokens  %9s tok/s  %8s GFLOP/s  %s of %s, %s of %s  (median of %zu)\n",
                p["prompt_tokens"].get<long long>(), Fixed(p["tokens_per_s"], 1).c_str(),
                Fixed(p["gflops"], 1).c_str(), Fixed(p["fraction_of_peak"], 3).c_str(), ref.c_str(),
                Fixed(p["fraction_of_best_isa_peak"], 3).c_str(), pbest.c_str(), p["run_seconds"].size());
  for (const auto& d : j["decode"])
    std::printf("decode batch %3d  %9s tok/s  roofline %9s tok/s  %s of roofline  (%s MB/step)\n",
                d["batch"].get<int>(), Fixed(d["tokens_per_s"], 2).c_str(),
                Fixed(d["roofline_tokens_per_s"], 2).c_str(),
                Fixed(d["fraction_of_roofline"], 3).c_str(),
                Fixed(d["bytes_per_step"].get<double>() / 1e6, 1).c_str());
  for (const auto& t : j["ttft"])
    std::printf("ttft %-11s %9s ms  (%dx%d tiles, %lld tokens: vision %s ms, prefill %s ms)\n",
                t["image"].get<std::string>().c_str(), Fixed(t["ms"], 0).c_str(),
                t["tiles"][0].get<int>(), t["tiles"][1].get<int>(),
                t["prompt_tokens"].get<long long>(), Fixed(t["vision_ms"], 0).c_str(),
                Fixed(t["prefill_ms"], 0).c_str());
  std::printf("peak RSS     %s MB\n", Fixed(j["peak_rss_mb"], 0).c_str());
}

}  // namespace

int RunBench(int argc, char** argv) {
  auto opts_or = ParseOptions(argc, argv);
  if (!opts_or.ok()) {
    std::fprintf(stderr, "dsvl2 bench: %s\n%s", opts_or.status().message().c_str(), kUsage);
    return 2;
  }
  Options o = std::move(opts_or).value();
  if (o.model.empty()) {
    const std::string assets = AssetsDir();
    if (assets.empty())
      return Fail(Status::Error("no --model given and the bundled demo model was not found"));
    o.model = assets + "/demo-model";
    Progress(
        "no --model given: benchmarking the bundled demo model (random weights, small shapes)");
  }
  if (o.threads > 0) ThreadPool::SetGlobalThreads(o.threads);
  const auto start = std::chrono::steady_clock::now();

  Progress("loading " + o.model);
  EngineOptions eo;
  eo.weights = o.weights;
  eo.weight_memory = o.weight_memory;
  eo.matmul_precision = o.matmul_precision;
  auto engine_or = Engine::Load(o.model, eo);
  if (!engine_or.ok()) return Fail(engine_or.status());
  Engine& engine = **engine_or;
  const DeepseekVL2& model = engine.model();
  const DeepseekV2& lm = model.language();
  const LmWeightBytes wb = lm.WeightBytes();

  ordered_json j;
  j["model"] = o.model;
  j["weights"] = o.weights.empty() ? StoredFormat(wb) : o.weights;
  j["weight_memory"] = engine.weights_copied() ? "copy" : "map";
  j["matmul_precision"] = o.matmul_precision;
  // Whether medium precision rounds activations to bf16 on this machine (false: the f32 kernels,
  // where bf16 products are not faster, kernels::MediumPrecisionChangesResults).
  j["bf16_activations"] =
      o.matmul_precision == "medium" && kernels::MediumPrecisionChangesResults(kernels::Active());
  const bench::MachineInfo mi = bench::ProbeMachine();
  j["machine"] = {
      {"cpu_model", mi.cpu_model}, {"cores", mi.cores}, {"threads", mi.threads}, {"isa", mi.isa}};
  j["weight_bytes"] = {{"embed", wb.embed},         {"attention", wb.attention},
                       {"dense_mlp", wb.dense_mlp}, {"shared_experts", wb.shared_experts},
                       {"router", wb.router},       {"norms", wb.norms},
                       {"lm_head", wb.lm_head},     {"routed_experts", wb.routed_total()},
                       {"total", wb.total()},       {"by_dtype", wb.by_dtype}};

  // Model measurements first, so peak RSS is the model's and not the bandwidth buffer's.
  // A first prefill pages in the weights (untimed).
  {
    // The KV blocks the prefill and decode runs will hold are touched now, as in a server that
    // has been running: first touches inside a timed decode step measure the VM's page faults.
    KvPool* pool = engine.kv_pool();
    const int64_t bs = pool->block_size();
    int64_t blocks = 0;
    for (int64_t n : o.prompt_lengths) blocks = std::max(blocks, (n + bs) / bs + 1);
    for (int64_t b : o.batches)
      blocks = std::max(blocks, b * ((o.decode_prompt + o.decode_steps + 1 + bs - 1) / bs + 1));
    Progress(StrFormat("touching %lld KV cache blocks (%lld MB)", static_cast<long long>(blocks),
                       static_cast<long long>(pool->Prefault(blocks) >> 20)));
  }
  // The warm-up takes the longest prompt, so the scratch buffers the timed runs use already have
  // their largest size (a first 512-token run after a 128-token warm-up took 1.09 s, the next
  // 0.83 s).
  Progress("warm-up prefill");
  const int64_t longest = *std::max_element(o.prompt_lengths.begin(), o.prompt_lengths.end());
  if (auto w = bench::BenchPrefill(lm, engine.kv_pool(), longest, 99); !w.ok())
    return Fail(w.status().WithContext("warm-up"));
  std::vector<bench::PrefillResult> prefill;
  for (int64_t n : o.prompt_lengths) {
    Progress(StrFormat("prefill %lld tokens", static_cast<long long>(n)));
    auto r = bench::BenchPrefill(lm, engine.kv_pool(), n, 1000 + static_cast<uint64_t>(n));
    if (!r.ok())
      return Fail(
          r.status().WithContext(StrFormat("prefill of %lld tokens", static_cast<long long>(n))));
    prefill.push_back(*r);
  }
  std::vector<bench::DecodeResult> decode;
  for (int64_t b : o.batches) {
    Progress(StrFormat("decode batch %lld, %d steps", static_cast<long long>(b), o.decode_steps));
    auto r = bench::BenchDecode(lm, engine.kv_pool(), static_cast<int>(b), o.decode_prompt,
                                o.decode_steps, 2000 + static_cast<uint64_t>(b));
    if (!r.ok())
      return Fail(
          r.status().WithContext(StrFormat("decode batch %lld", static_cast<long long>(b))));
    decode.push_back(*r);
  }
  bench::VisionResult vision;
  if (o.vision_tiles > 0) {
    Progress(StrFormat("vision %lld tiles", static_cast<long long>(o.vision_tiles)));
    vision = bench::BenchVision(model, o.vision_tiles);
  }
  std::vector<bench::TtftResult> ttft;
  for (const auto& [w, h] : o.images) {
    Progress(StrFormat("time to first token, %dx%d image", w, h));
    auto r = bench::BenchTtft(engine, w, h);
    if (!r.ok()) return Fail(r.status().WithContext(StrFormat("ttft %dx%d", w, h)));
    ttft.push_back(*r);
  }
  const double peak_rss = bench::PeakRssMb();

  // The peaks are measured twice, before and after the bandwidth, and the better of the two kept
  // per kernel: on a shared VM one pass can run in a slow period (a bf16 peak of half its value
  // was seen once, which doubled that run's fractions); --quick measures once.
  Progress("peak multiply-add rates");
  std::vector<mb::PeakResult> peaks = mb::MeasurePeaks(o.peak_seconds, o.peak_repeats);
  Progress("memory bandwidth");
  const double bw = mb::MeasureReadBandwidth(o.bandwidth_bytes, o.bandwidth_passes);
  if (!(bw > 0))
    return Fail(Status::Error("memory bandwidth measurement failed (buffer allocation?)"));
  if (!o.quick) {
    Progress("peak multiply-add rates, second pass");
    for (const mb::PeakResult& again : mb::MeasurePeaks(o.peak_seconds, o.peak_repeats))
      for (mb::PeakResult& p : peaks)
        if (p.name == again.name) {
          p.one_thread = std::max(p.one_thread, again.one_thread);
          p.all_threads = std::max(p.all_threads, again.all_threads);
        }
  }
  // The reference peak: f32 FMA on all threads with the active kernels' instruction set (the
  // widest measured one for the generic/ref kernels).
  double ref_peak = 0;
  std::string ref_name;
  const std::string want = mi.isa == "avx2" ? "f32_fma_avx2" : "f32_fma_avx512";
  for (const mb::PeakResult& p : peaks)
    if (p.name == want) ref_peak = p.all_threads, ref_name = p.name;
  if (ref_name.empty())
    for (const mb::PeakResult& p : peaks)
      if (p.name.rfind("f32_fma_", 0) == 0 && p.all_threads > ref_peak)
        ref_peak = p.all_threads, ref_name = p.name;

  j["memory_bandwidth_gbs"] = bw;
  j["peak_gflops"] = ordered_json::object();
  for (const mb::PeakResult& p : peaks)
    j["peak_gflops"][p.name] = {{"unit", p.unit},
                                {"one_thread", p.one_thread},
                                {"all_threads", p.all_threads},
                                {"threads", p.threads}};
  j["reference_peak"] = {{"kernel", ref_name}, {"gflops", ref_peak}};
  // The best instruction set's peak for the numbers a product works in: float (f32 FMA, bf16 dot
  // products, AMX bf16 tiles) for bf16/f32 weights and the vision tower, int8 (VNNI, AMX int8) for
  // q8/q4 weights. Useful multiply-adds only: the AMX bf16 GEMM does 3 tile products per useful one
  // (activations split in three bf16 parts for f32 accuracy), so its ceiling is 1/3 of that peak.
  auto best_peak = [&](bool int8) {
    std::pair<std::string, double> best{"", 0.0};
    for (const mb::PeakResult& p : peaks)
      if ((p.name.rfind("int8_", 0) == 0) == int8 && p.all_threads > best.second) best = {p.name, p.all_threads};
    return best;
  };
  const bool int8_prefill = j["weights"] == "q8" || j["weights"] == "q4";
  const auto [float_best, float_best_gflops] = best_peak(false);
  const auto [prefill_best, prefill_best_gflops] = best_peak(int8_prefill);
  j["best_isa_peak"] = {{"vision", {{"kernel", float_best}, {"gflops", float_best_gflops}}},
                        {"prefill", {{"kernel", prefill_best}, {"gflops", prefill_best_gflops}}}};
  auto frac_of = [](double gflops, double peak) { return peak > 0 ? gflops / peak : 0.0; };
  auto frac = [&](double gflops) { return frac_of(gflops, ref_peak); };
  if (o.vision_tiles > 0) {
    j["vision_tiles_per_s"] = vision.tiles_per_s;
    j["vision"] = {{"tiles", vision.tiles},
                   {"seconds", vision.seconds},
                   {"gflop", vision.gflop},
                   {"gflops", vision.gflops},
                   {"fraction_of_peak", frac(vision.gflops)},
                   {"fraction_of_best_isa_peak", frac_of(vision.gflops, float_best_gflops)}};
  }
  j["prefill"] = ordered_json::array();
  for (const bench::PrefillResult& p : prefill)
    j["prefill"].push_back({{"prompt_tokens", p.prompt_tokens},
                            {"tokens_per_s", p.tokens_per_s},
                            {"seconds", p.seconds},
                            {"run_seconds", p.runs},
                            {"gflop", p.gflop},
                            {"gflops", p.gflops},
                            {"fraction_of_peak", frac(p.gflops)},
                            {"fraction_of_best_isa_peak", frac_of(p.gflops, prefill_best_gflops)}});
  j["decode"] = ordered_json::array();
  for (bench::DecodeResult& d : decode) {
    bench::Roofline(bw, &d);
    j["decode"].push_back({{"batch", d.batch},
                           {"steps", d.steps},
                           {"prompt_tokens", d.prompt_tokens},
                           {"tokens_per_s", d.tokens_per_s},
                           {"roofline_tokens_per_s", d.roofline_tokens_per_s},
                           {"fraction_of_roofline", d.fraction_of_roofline},
                           {"bytes_per_step", d.bytes_per_step},
                           {"mean_routed_experts_per_layer", d.mean_routed_experts},
                           {"seconds", d.seconds}});
  }
  j["ttft_ms"] = ordered_json::object();
  j["ttft"] = ordered_json::array();
  for (const bench::TtftResult& t : ttft) {
    j["ttft_ms"][t.image] = t.ms;
    j["ttft"].push_back({{"image", t.image},
                         {"ms", t.ms},
                         {"tiles", {t.tiles_w, t.tiles_h}},
                         {"prompt_tokens", t.prompt_tokens},
                         {"preprocess_ms", t.preprocess_ms},
                         {"vision_ms", t.vision_ms},
                         {"prefill_ms", t.prefill_ms}});
  }
  j["peak_rss_mb"] = peak_rss;
  j["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.format == "json") {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintText(j);
  }
  return 0;
}

}  // namespace dsvl2::tools
