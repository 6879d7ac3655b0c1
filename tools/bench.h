// Pieces of `dsvl2 bench` (tools/cmd_bench.cc): machine probes, FLOP counts, and the model
// measurements (vision tiles, prefill, batched decode against its bandwidth roofline, time to
// first token through the Engine).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/config.h"
#include "lm/deepseek_v2.h"
#include "runtime/engine.h"
#include "runtime/kv_cache.h"

namespace dsvl2::tools::bench {

// ---- machine (bench_machine.cc) ----
struct MachineInfo {
  std::string cpu_model;  // /proc/cpuinfo "model name"
  int cores = 0;          // online logical CPUs
  int threads = 0;        // threads of the global pool (used by every measurement)
  std::string isa;        // kernels::Active().isa
};
MachineInfo ProbeMachine();
// VmHWM of this process in MiB (0 if /proc/self/status cannot be read).
double PeakRssMb();

// ---- FLOP counts (bench_flops.cc): 2*m*n*k for every matrix product + attention ----
// One forward step of one sequence: `past` cached tokens, `n` new tokens, `logit_rows` rows
// through lm_head. Routed experts count num_experts_per_tok per token (exact for any routing).
double LmForwardFlops(const LanguageConfig& c, int64_t past, int64_t n, int64_t logit_rows);
// SigLIP tower + projector over `tiles` tiles.
double VisionFlops(const Vl2Config& c, int64_t tiles);

// ---- model measurements (bench_model.cc) ----
struct VisionResult {
  int64_t tiles = 0;
  double seconds = 0, tiles_per_s = 0, gflop = 0, gflops = 0;
};
// N random tiles through VisionFeatures + Project in one batch (as EncodeImage runs an image's
// views).
VisionResult BenchVision(const DeepseekVL2& model, int64_t tiles);

struct PrefillResult {
  int64_t prompt_tokens = 0;
  double seconds = 0, tokens_per_s = 0, gflop = 0, gflops = 0;  // seconds: the median run
  std::vector<double> runs;                                      // seconds of every run
};
// Random valid ids, a fresh KV, one Forward over the whole prompt (logits of the last row),
// repeated until kPrefillMinSeconds have passed (at most kPrefillMaxRuns runs): a 128-token
// prefill takes ~0.2 s, and one such run on a shared 2-vCPU VM varied by 30%. The median run is
// reported.
constexpr double kPrefillMinSeconds = 1.5;
constexpr int kPrefillMaxRuns = 9;
StatusOr<PrefillResult> BenchPrefill(const DeepseekV2& lm, KvPool* pool, int64_t tokens,
                                     uint64_t seed);

struct DecodeResult {
  int batch = 0, steps = 0;
  int64_t prompt_tokens = 0;  // per sequence, prefilled before the timed steps
  double seconds = 0, tokens_per_s = 0;
  double bytes_per_step = 0;       // mean weight bytes one step reads
  double mean_routed_experts = 0;  // mean unique routed experts per MoE layer per step
  std::vector<double> step_seconds;
  std::vector<int64_t> step_bytes;
  // Filled by Roofline() once the bandwidth is known.
  double roofline_tokens_per_s = 0, fraction_of_roofline = 0;
};
// `batch` sequences each prefilled with `prompt_tokens` random ids, then `steps` greedy steps in
// which one Forward carries one row per sequence (as the scheduler batches decodes). Records each
// step's time and the bytes of weights it read (non-routed weights + the unique routed experts
// the rows were sent to, per layer + the embedding rows used).
StatusOr<DecodeResult> BenchDecode(const DeepseekV2& lm, KvPool* pool, int batch,
                                   int64_t prompt_tokens, int steps, uint64_t seed);
// roofline tokens/s = batch * steps / sum(step_bytes / bandwidth).
void Roofline(double bandwidth_gbs, DecodeResult* r);

struct TtftResult {
  std::string image;  // "WxH"
  int tiles_w = 0, tiles_h = 0;
  int64_t prompt_tokens = 0;
  double ms = 0;  // end to end: preprocess + vision + prefill + first token
  double preprocess_ms = 0, vision_ms = 0, prefill_ms = 0;
};
// A deterministic synthetic RGB image of the given size (gradients, shapes, noise).
Image SyntheticImage(int width, int height);
// One user turn "<image>\n" + a short question through Engine::Prepare + Engine::Run with one
// new token.
StatusOr<TtftResult> BenchTtft(Engine& engine, int width, int height);

}  // namespace dsvl2::tools::bench
