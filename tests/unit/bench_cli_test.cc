// `dsvl2 bench --quick` on a fixture: the JSON report has every field, all measurements are
// positive and finite, and the derived numbers agree with each other (roofline = batch ×
// bandwidth / bytes per step, fractions = ratios, FLOP counts = the hand-computed formula). No
// timing thresholds: the numbers themselves depend on the machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

using nlohmann::json;

struct Result {
  int rc = -1;
  std::string out, err;
};

Result RunBench(const std::string& args) {
  const std::string tmp = testing::MakeTempDir();
  const std::string cmd =
      std::string(DSVL2_BINARY) + " bench " + args + " >" + tmp + "/out 2>" + tmp + "/err";
  Result r;
  const int rc = std::system(cmd.c_str());
  r.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadFileToString(tmp + "/out").value();
  r.err = ReadFileToString(tmp + "/err").value();
  return r;
}

std::string Fixture() { return testing::DataDir() + "/fixtures/tiny-mha"; }

double Positive(const json& j, const std::string& key) {
  EXPECT_TRUE(j.contains(key)) << key;
  if (!j.contains(key)) return 0;
  EXPECT_TRUE(j[key].is_number()) << key;
  const double v = j[key].get<double>();
  EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
  return v;
}

void ExpectRel(double a, double b, const std::string& what) {
  EXPECT_LE(std::fabs(a - b), 1e-9 * std::max(1.0, std::fabs(b)))
      << what << ": " << a << " vs " << b;
}

// tiny-mha: d 64, 4 heads × 16, dense layer 0 (inter 160), MoE layers 1..2 (8 experts, k 3,
// inter 32, 2 shared), vocab 1024. Prefill of n tokens from an empty cache, 1 logit row.
double TinyMhaPrefillFlops(double n) {
  const double d = 64, w = 64, keys = n * (n + 1) / 2;
  const double attn = 4 * d * w, dense = 3 * d * 160, moe = d * 8 + 3 * d * 32 * 3 + 3 * d * 32 * 2;
  return 2 * (n * (attn + dense) + keys * 2 * w) + 2 * 2 * (n * (attn + moe) + keys * 2 * w) +
         2 * d * 1024;
}

TEST(BenchCli, QuickJsonOnFixture) {
  Result r = RunBench("--model " + Fixture() + " --format json --quick");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("bench: prefill"), std::string::npos) << "progress goes to stderr";
  const json j = json::parse(r.out);

  EXPECT_EQ(j["weights"], "bf16");
  const json& m = j["machine"];
  EXPECT_FALSE(m["cpu_model"].get<std::string>().empty());
  EXPECT_GE(m["cores"].get<int>(), 1);
  EXPECT_GE(m["threads"].get<int>(), 1);
  EXPECT_FALSE(m["isa"].get<std::string>().empty());

  const double bw = Positive(j, "memory_bandwidth_gbs");
  ASSERT_TRUE(j["peak_gflops"].is_object());
  for (const auto& [name, p] : j["peak_gflops"].items()) {
    Positive(p, "one_thread");
    Positive(p, "all_threads");
  }
  const double peak = Positive(j["reference_peak"], "gflops");
  EXPECT_EQ(j["peak_gflops"][j["reference_peak"]["kernel"].get<std::string>()]["all_threads"]
                .get<double>(),
            peak);

  // Vision: 1 tile in quick mode.
  Positive(j, "vision_tiles_per_s");
  const json& v = j["vision"];
  ExpectRel(j["vision_tiles_per_s"], v["tiles"].get<double>() / Positive(v, "seconds"), "tiles/s");
  ExpectRel(v["gflops"], Positive(v, "gflop") / v["seconds"].get<double>(), "vision GFLOP/s");
  ExpectRel(v["fraction_of_peak"], v["gflops"].get<double>() / peak, "vision fraction");

  ASSERT_EQ(j["prefill"].size(), 2u);
  for (const json& p : j["prefill"]) {
    const double n = Positive(p, "prompt_tokens"), s = Positive(p, "seconds");
    // seconds is the median of the runs (repeated to ~1.5 s, at most 9).
    std::vector<double> runs = p["run_seconds"].get<std::vector<double>>();
    ASSERT_FALSE(runs.empty());
    ASSERT_LE(runs.size(), 9u);
    std::sort(runs.begin(), runs.end());
    const size_t k = runs.size();
    EXPECT_DOUBLE_EQ(s, k % 2 ? runs[k / 2] : 0.5 * (runs[k / 2 - 1] + runs[k / 2]));
    ExpectRel(Positive(p, "tokens_per_s"), n / s, "prefill tok/s");
    ExpectRel(Positive(p, "gflop"), TinyMhaPrefillFlops(n) / 1e9, "prefill GFLOP");
    ExpectRel(Positive(p, "gflops"), p["gflop"].get<double>() / s, "prefill GFLOP/s");
    ExpectRel(Positive(p, "fraction_of_peak"), p["gflops"].get<double>() / peak,
              "prefill fraction");
  }

  // Weight bytes: batch 1 reads the non-routed weights, one embedding row and k=3 experts in
  // each of the 2 MoE layers (each 3 × 64 × 32 bf16).
  const json& wb = j["weight_bytes"];
  const double non_routed = wb["attention"].get<double>() + wb["dense_mlp"].get<double>() +
                            wb["shared_experts"].get<double>() + wb["router"].get<double>() +
                            wb["norms"].get<double>() + wb["lm_head"].get<double>();
  ASSERT_EQ(j["decode"].size(), 2u);
  EXPECT_EQ(j["decode"][0]["batch"], 1);
  EXPECT_EQ(j["decode"][0]["bytes_per_step"].get<double>(),
            non_routed + 64 * 2 + 2 * 3 * (3 * 64 * 32 * 2));
  for (const json& d : j["decode"]) {
    const double b = Positive(d, "batch"), bytes = Positive(d, "bytes_per_step");
    const double tps = Positive(d, "tokens_per_s"), roof = Positive(d, "roofline_tokens_per_s");
    EXPECT_GE(bytes, non_routed);
    EXPECT_LE(bytes, non_routed + b * wb["embed"].get<double>() / 1024 +
                         wb["routed_experts"].get<double>());
    ExpectRel(roof, b * bw * 1e9 / bytes, "roofline");
    ExpectRel(Positive(d, "fraction_of_roofline"), tps / roof, "fraction of roofline");
    ExpectRel(tps, b * d["steps"].get<double>() / Positive(d, "seconds"), "decode tok/s");
    EXPECT_GE(d["mean_routed_experts_per_layer"].get<double>(), 3.0);
    EXPECT_LE(d["mean_routed_experts_per_layer"].get<double>(), std::min(8.0, 3.0 * b));
  }

  ASSERT_TRUE(j["ttft_ms"].is_object());
  ASSERT_EQ(j["ttft_ms"].size(), 1u);
  const double ttft = Positive(j["ttft_ms"], "640x480");
  const json& t = j["ttft"][0];
  EXPECT_EQ(t["tiles"], json::array({2, 2}));
  EXPECT_GT(t["prompt_tokens"].get<int>(), 1000);
  EXPECT_GE(ttft, t["vision_ms"].get<double>() + t["prefill_ms"].get<double>());
  Positive(j, "peak_rss_mb");
}

TEST(BenchCli, TextOutputAndOptions) {
  Result r = RunBench("--model " + Fixture() +
                      " --quick --threads 1 --prompt-lengths 8 --batches 2 "
                      "--decode-steps 2 --vision-tiles 0 --images 100x50");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("memory bandwidth"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("prefill     8 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode batch   2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ttft 100x50"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 threads"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("tiles/s"), std::string::npos) << "--vision-tiles 0 skips it";
}

TEST(BenchCli, BadOptionsAreOneLineErrors) {
  for (const char* args :
       {"--batches 0", "--batches 1,x", "--prompt-lengths ''", "--images 640by480", "--format xml",
        "--weights q3", "--decode-steps 0", "--bogus 1", "--weight-memory disk",
        "--matmul-precision low"}) {
    Result r = RunBench("--model " + Fixture() + " " + args);
    EXPECT_EQ(r.rc, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find("dsvl2 bench: "), std::string::npos) << args;
  }
  // Load-time quantization: the JSON names the format and its bytes per step shrink.
  Result q = RunBench("--model " + Fixture() + " --weights q8 --quick --format json");
  ASSERT_EQ(q.rc, 0) << q.err;
  nlohmann::json jq = nlohmann::json::parse(q.out);
  EXPECT_EQ(jq["weights"], "q8");
  EXPECT_TRUE(jq["weight_bytes"]["by_dtype"].contains("Q8_0")) << jq["weight_bytes"].dump();
  // Integer weights: prefill against the best integer peak, vision (bf16 weights) the float one.
  EXPECT_EQ(jq["best_isa_peak"]["prefill"]["kernel"].get<std::string>().rfind("int8_", 0), 0u)
      << jq["best_isa_peak"].dump();
  EXPECT_NE(jq["best_isa_peak"]["vision"]["kernel"].get<std::string>().rfind("int8_", 0), 0u);
  // A model written by `dsvl2 quantize` reads the same: named q4 (not q4_0), integer peak.
  const std::string qdir = testing::MakeTempDir() + "/q4";
  const std::string qcmd = std::string(DSVL2_BINARY) + " quantize --model '" + Fixture() + "' --out '" + qdir +
                           "' --type q4 >/dev/null 2>&1";
  ASSERT_EQ(std::system(qcmd.c_str()), 0) << qcmd;
  Result s = RunBench("--model " + qdir + " --quick --format json");
  ASSERT_EQ(s.rc, 0) << s.err;
  json js = json::parse(s.out);
  EXPECT_EQ(js["weights"], "q4");
  EXPECT_EQ(js["best_isa_peak"]["prefill"]["kernel"].get<std::string>().rfind("int8_", 0), 0u)
      << js["best_isa_peak"].dump();
  // Where the weights live is reported: forced either way, and auto copies a model this small.
  for (const char* mode : {"map", "copy", "auto"}) {
    Result w = RunBench("--model " + Fixture() + " --weight-memory " + mode + " --quick --format json");
    ASSERT_EQ(w.rc, 0) << mode << ": " << w.err;
    EXPECT_EQ(nlohmann::json::parse(w.out)["weight_memory"], std::string(mode) == "map" ? "map" : "copy") << mode;
  }
  // The matmul precision is reported as chosen (default high).
  for (const char* p : {"", "high", "medium"}) {
    Result w = RunBench("--model " + Fixture() + (*p ? std::string(" --matmul-precision ") + p : "") +
                        " --quick --format json");
    ASSERT_EQ(w.rc, 0) << p << ": " << w.err;
    EXPECT_EQ(nlohmann::json::parse(w.out)["matmul_precision"], *p ? p : "high") << p;
  }
  Result missing = RunBench("--model /nonexistent/model --quick");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("/nonexistent/model"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace dsvl2
