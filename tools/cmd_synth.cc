// dsvl2 synth --preset NAME --out DIR: writes a model directory with random weights and the real
// shapes of a preset (tools/synth_presets.h), in the official Hugging Face layout:
//   config.json, processor_config.json,
//   model-0000k-of-00000n.safetensors shards + model.safetensors.index.json,
//   tokenizer.json, tokenizer_config.json, special_tokens_map.json.
// Weights are generated tensor by tensor inside the safetensors writer's fill callback, so memory
// stays bounded by the largest single tensor (the embedding / lm_head) whatever the model size.
// Values are a deterministic function of (--seed, tensor name, element index): the same seed gives
// the same bytes, and a --layers 2 model holds exactly the first two layers of the full one.
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/half.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "io/config.h"
#include "io/safetensors_writer.h"
#include "model/deepseek_vl2.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"
#include "tools/args.h"
#include "tools/assets.h"
#include "tools/synth_presets.h"

namespace dsvl2::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

constexpr const char* kUsage =
    "usage: dsvl2 synth --preset NAME --out DIR [options]\n"
    "Writes a model with random weights and the real shapes of NAME in the official layout.\n"
    "  --preset NAME        %s\n"
    "  --out DIR            output directory (must be empty or absent unless --force)\n"
    "  --dtype T            bf16 (default, as the official checkpoints) | f16 | f32 | q8 | q4\n"
    "                       (q8/q4: the language model's linear weights block-quantized as\n"
    "                       dsvl2 quantize writes them, the rest bf16; written streamed)\n"
    "  --seed S             random seed (default 0); same seed, same bytes\n"
    "  --layers N           override language num_hidden_layers\n"
    "  --vocab N            override vocab_size (for tests and benchmarks; the model then no\n"
    "                       longer matches the real checkpoint's embedding/lm_head shapes)\n"
    "  --vision-layers N    override the vision tower depth (for tests and benchmarks)\n"
    "  --max-shard-mb N     shard size cap in MiB (default 8192, which gives the official\n"
    "                       shard counts: Tiny 1, Small 4)\n"
    "  --tokenizer FILE     tokenizer.json to ship (default: see below)\n"
    "  --force              write into a non-empty DIR (replaces model*.safetensors there)\n"
    "  --dry-run            print the plan (config, tensors, shards) as JSON; write nothing\n"
    "Tokenizer: the DeepSeek-V3 tokenizer.json fetched by scripts/setup.sh when the vocabulary\n"
    "holds all its ids (plus the 8 VL2 tokens), else the bundled byte-level demo tokenizer.\n";

// ---- random values -------------------------------------------------------------------------

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

inline uint64_t Mix64(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Elements per independently seeded chunk: chunks are filled in parallel and the values do not
// depend on the number of threads.
constexpr int64_t kChunk = int64_t{1} << 16;

// Normal-ish values: the Irwin-Hall sum of the four 16-bit parts of one splitmix64 draw
// (bounded at ±3.46 std), centred; multiply by std / kIrwinHallStd.
constexpr float kIrwinHallStd = 37837.23f;  // 65536 * sqrt(4/12)

inline int32_t IrwinHall4(uint64_t r) {
  return static_cast<int32_t>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) +
                              (r >> 48)) - 131070;
}

// bf16 rounding to nearest even for finite values (all values here are small and finite).
inline uint16_t FiniteToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Fills elements [begin, end) of one chunk whose generator starts at `state`.
template <typename T, typename Convert>
void FillRange(uint64_t state, float scale, int64_t begin, int64_t end, T* out, Convert convert) {
  for (int64_t i = begin; i < end; ++i)
    out[i] = convert(static_cast<float>(IrwinHall4(Mix64(state += kGolden))) * scale);
}

template <typename T, typename Convert>
void FillTyped(const SynthTensor& t, uint64_t seed, T* out, Convert convert) {
  const int64_t n = NumElements(t.shape);
  if (t.init == SynthInit::kOnes || t.init == SynthInit::kZeros) {
    std::fill(out, out + n, convert(t.init == SynthInit::kOnes ? 1.0f : 0.0f));
    return;
  }
  const float scale = (t.init == SynthInit::kSmall ? 0.01f : 0.02f) / kIrwinHallStd;
  const uint64_t tensor_seed = Mix64(seed * kGolden ^ Fnv1a(t.name));
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  ThreadPool::Global().ParallelFor(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c)
      FillRange(Mix64(tensor_seed + static_cast<uint64_t>(c) * kGolden), scale, c * kChunk,
                std::min(n, (c + 1) * kChunk), out, convert);
  });
}

void FillTensor(const SynthTensor& t, DType dtype, uint64_t seed, uint8_t* out) {
  if (IsQuantized(dtype)) {  // the f32 values quantized panel by panel (the same values as --dtype f32)
    const int64_t k = t.shape.back(), rows = NumElements(t.shape) / k;
    std::vector<float> f(static_cast<size_t>(rows * k));
    FillTyped(t, seed, f.data(), [](float v) { return v; });
    const size_t pb = QuantPanelBytes(dtype, k);
    ThreadPool::Global().ParallelFor(QuantPaddedRows(rows) / kQuantPanel, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        QuantizePanel(dtype, f.data() + p * kQuantPanel * k, std::min(kQuantPanel, rows - p * kQuantPanel), k,
                      out + static_cast<size_t>(p) * pb);
    });
    return;
  }
  switch (dtype) {
    case DType::kBF16:
      FillTyped(t, seed, reinterpret_cast<uint16_t*>(out), FiniteToBf16);
      break;
    case DType::kF16:
      FillTyped(t, seed, reinterpret_cast<uint16_t*>(out), [](float v) { return F32ToF16(v); });
      break;
    default:
      FillTyped(t, seed, reinterpret_cast<float*>(out), [](float v) { return v; });
      break;
  }
}

// ---- plan ----------------------------------------------------------------------------------

struct Shard {
  std::string file;
  std::vector<size_t> tensors;  // indices into the plan
  uint64_t bytes = 0;
};

// transformers' shard_checkpoint: tensors in order, a new shard when the next tensor would push
// the current one over the cap (a tensor larger than the cap gets a shard of its own).
// The dtype tensor t is written in: `dtype`, except with a quantized `dtype` only the language
// model's linear weights (DeepseekVL2::IsQuantizableWeight, last dim a multiple of 32) are
// quantized and everything else is bf16.
DType TensorDtype(const SynthTensor& t, DType dtype) {
  if (!IsQuantized(dtype)) return dtype;
  return DeepseekVL2::IsQuantizableWeight(t.name) && t.shape.size() == 2 && t.shape[1] % kQuantBlock == 0
             ? dtype
             : DType::kBF16;
}

std::vector<Shard> MakeShards(const std::vector<SynthTensor>& plan, DType dtype, uint64_t cap) {
  std::vector<Shard> shards(1);
  for (size_t i = 0; i < plan.size(); ++i) {
    const uint64_t b = StorageBytes(TensorDtype(plan[i], dtype), plan[i].shape);
    if (!shards.back().tensors.empty() && shards.back().bytes + b > cap) shards.emplace_back();
    shards.back().tensors.push_back(i);
    shards.back().bytes += b;
  }
  for (size_t k = 0; k < shards.size(); ++k)  // the official names: 5-digit index, 6-digit count
    shards[k].file = StrFormat("model-%05zu-of-%06zu.safetensors", k + 1, shards.size());
  return shards;
}

std::string Gb(uint64_t bytes) { return StrFormat("%.2f GB", static_cast<double>(bytes) / 1e9); }

// ---- output helpers ------------------------------------------------------------------------

Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (f) f.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (f) f.close();
  if (!f) return Status::Error("cannot write " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

Status CopyFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::Error("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
  return Status::Ok();
}

// processor_config.json of the official repos (docs §1.1).
std::string ProcessorConfig(const ordered_json& config, const Vl2Config& cfg) {
  ordered_json p = ordered_json::object();
  p["candidate_resolutions"] = config["candidate_resolutions"];
  p["patch_size"] = cfg.vision_config.patch_size;
  p["downsample_ratio"] = cfg.projector_config.downsample_ratio;
  p["image_mean"] = {0.5, 0.5, 0.5};
  p["image_std"] = {0.5, 0.5, 0.5};
  p["normalize"] = true;
  p["image_token"] = "<image>";
  p["pad_token"] = "<｜▁pad▁｜>";
  p["add_special_token"] = false;
  p["sft_format"] = "deepseek";
  p["mask_prompt"] = false;
  p["ignore_id"] = -100;
  p["processor_class"] = "DeepseekVLV2Processor";
  return p.dump(2) + "\n";
}

// Number of ids a tokenizer.json uses once the VL2 processor has added its 8 tokens.
StatusOr<int64_t> TokenizerIds(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, Tokenizer::FromFile(path));
  tok->AddSpecialTokens(Vl2SpecialTokens());
  return static_cast<int64_t>(tok->vocab_size());
}

// Picks the tokenizer.json to ship. The DeepSeek-V3 tokenizer (the Tiny/Base family: 128000 BPE
// ids + 815 placeholders, VL2 tokens at 128815..128822) is used when the vocabulary holds all its
// ids. Small's real tokenizer (the DeepSeek-LLM 100K one, specials at 100000..100010) is not
// available offline, and the V3 one cannot stand in for it: its ordinary BPE ids run up to
// 127999, past Small's 102400 rows. Small, the 32000/51200-vocab baselines and shrunken --vocab
// models therefore get the bundled byte-level tokenizer (1024 ids), whose ids always fit; their
// text round-trips but costs more tokens than with the real tokenizer.
StatusOr<std::string> ChooseTokenizer(const std::string& requested, int64_t vocab,
                                      const std::string& demo_dir) {
  if (!requested.empty()) {
    ASSIGN_OR_RETURN(int64_t ids, TokenizerIds(requested));
    if (ids > vocab)
      return Status::Error(StrFormat("--tokenizer %s uses %lld ids (with the VL2 tokens), more than "
                                     "vocab_size %lld", requested.c_str(), static_cast<long long>(ids),
                                     static_cast<long long>(vocab)));
    return requested;
  }
  const std::string v3 = (fs::path(DSVL2_SOURCE_ASSETS).parent_path() / "third_party" /
                          "downloads" / "deepseek_v3_tokenizer.json").string();
  // The V3 BPE vocabulary alone has 128000 ids (docs §2.1): below that, skip loading the file.
  constexpr int64_t kV3BpeIds = 128000;
  std::error_code ec;
  if (vocab >= kV3BpeIds && fs::is_regular_file(v3, ec)) {
    StatusOr<int64_t> ids = TokenizerIds(v3);
    if (ids.ok() && *ids <= vocab) return v3;
  }
  if (demo_dir.empty())
    return Status::Error("the bundled demo tokenizer (assets/demo-model) was not found; set "
                         "DSVL2_ASSETS or pass --tokenizer FILE");
  const std::string demo = demo_dir + "/tokenizer.json";
  ASSIGN_OR_RETURN(int64_t ids, TokenizerIds(demo));
  if (ids > vocab)
    return Status::Error(StrFormat("vocab_size %lld is smaller than the bundled tokenizer's %lld ids",
                                   static_cast<long long>(vocab), static_cast<long long>(ids)));
  return demo;
}

// Prints "synth: X / Y GB (P%)" to stderr: redrawn in place on a terminal (at most 5 times a
// second), one line per 10% otherwise.
class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {}
  void Add(uint64_t bytes) {
    done_ += bytes;
    const int pct = total_ ? static_cast<int>(100.0 * static_cast<double>(done_) / static_cast<double>(total_)) : 100;
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (now - last_ < std::chrono::milliseconds(200) && done_ < total_) return;
      last_ = now;
      std::fprintf(stderr, "\rsynth: %s / %s (%d%%)   ", Gb(done_).c_str(), Gb(total_).c_str(), pct);
      if (done_ >= total_) std::fputc('\n', stderr);
    } else if (pct / 10 > last_decile_) {
      last_decile_ = pct / 10;
      std::fprintf(stderr, "synth: %s / %s (%d%%)\n", Gb(done_).c_str(), Gb(total_).c_str(), pct);
    }
    std::fflush(stderr);
  }

 private:
  uint64_t total_, done_ = 0;
  bool tty_;
  int last_decile_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

DType ParseDtypeFlag(const std::string& s, bool* ok) {
  *ok = true;
  if (s == "bf16") return DType::kBF16;
  if (s == "f16") return DType::kF16;
  if (s == "f32") return DType::kF32;
  if (s == "q8") return DType::kQ8_0;
  if (s == "q4") return DType::kQ4_0;
  *ok = false;
  return DType::kBF16;
}

const char* TorchDtype(DType d) {
  return d == DType::kBF16 || IsQuantized(d) ? "bfloat16" : d == DType::kF16 ? "float16" : "float32";
}

// "demo-model/tokenizer.json" / "deepseek_v3_tokenizer.json" for the summary line.
std::string TokenizerLabel(const std::string& path) {
  const fs::path p(path);
  return p.filename() == "tokenizer.json" ? (p.parent_path().filename() / p.filename()).string()
                                          : p.filename().string();
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "dsvl2 synth: %s\n", message.c_str());
  return 1;
}

// Checks DIR: absent (created), or an empty directory, or (with --force) any directory, from
// which stale weight files are removed so the new index is the only one.
Status PrepareOutDir(const fs::path& out, bool force) {
  std::error_code ec;
  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) return Status::Error(out.string() + " exists and is not a directory");
    if (!fs::is_empty(out, ec) && !force)
      return Status::Error(out.string() + " is not empty (use --force to write into it)");
  } else {
    fs::create_directories(out, ec);
    if (ec) return Status::Error("cannot create " + out.string() + ": " + ec.message());
  }
  if (::access(out.c_str(), W_OK | X_OK) != 0)
    return Status::Error(out.string() + " is not writable: " + std::strerror(errno));
  for (const auto& e : fs::directory_iterator(out, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("model", 0) == 0 && (n.ends_with(".safetensors") || n == "model.safetensors.index.json"))
      fs::remove(e.path(), ec);
  }
  return Status::Ok();
}

}  // namespace

int RunSynth(int argc, char** argv) {
  Args args({"preset", "out", "dtype", "seed", "layers", "vocab", "vision-layers", "max-shard-mb",
             "tokenizer"},
            {"force", "dry-run", "help"});
  Status st = args.Parse(argc, argv);
  if (!st.ok() || args.Has("help")) {
    if (!st.ok()) std::fprintf(stderr, "dsvl2 synth: %s\n", st.message().c_str());
    std::fprintf(stderr, kUsage, SynthPresetNames().c_str());
    return st.ok() ? 0 : 2;
  }
  const bool dry_run = args.Has("dry-run");
  if (!args.Has("preset")) return Fail("--preset is required (one of: " + SynthPresetNames() + ")");
  const SynthPreset* preset = FindSynthPreset(args.Get("preset"));
  if (!preset)
    return Fail("unknown preset '" + args.Get("preset") + "' (valid: " + SynthPresetNames() + ")");
  if (!dry_run && args.Get("out").empty()) return Fail("--out DIR is required");
  bool dtype_ok;
  const DType dtype = ParseDtypeFlag(args.Get("dtype", "bf16"), &dtype_ok);
  if (!dtype_ok) return Fail("--dtype must be bf16, f16, f32, q8 or q4, got '" + args.Get("dtype") + "'");
  auto seed = args.GetInt("seed", 0, 0, INT64_MAX);
  auto layers = args.GetInt("layers", 0, 1, 1000);
  auto vocab = args.GetInt("vocab", 0, 1, 1 << 24);
  auto vision_layers = args.GetInt("vision-layers", 0, 1, 1000);
  auto shard_mb = args.GetInt("max-shard-mb", 8192, 1, int64_t{1} << 30);
  for (const Status& s : {seed.status(), layers.status(), vocab.status(), vision_layers.status(),
                          shard_mb.status()})
    if (!s.ok()) return Fail(s.message());

  // config.json: the preset with the overrides; parsing it back validates it exactly as the
  // loader will, and every shape below comes from the parsed config.
  ordered_json config = SynthConfigJson(*preset);
  ordered_json& lang = config["language_config"];
  if (args.Has("layers")) lang["num_hidden_layers"] = *layers;
  if (args.Has("vocab")) lang["vocab_size"] = *vocab;
  if (args.Has("vision-layers")) config["vision_config"]["layers"] = *vision_layers;
  config["torch_dtype"] = TorchDtype(dtype);
  if (lang.contains("torch_dtype")) lang["torch_dtype"] = TorchDtype(dtype);
  const std::string config_text = config.dump(2) + "\n";
  StatusOr<Vl2Config> cfg = ParseVl2Config(config_text, std::string(preset->name) + " config");
  if (!cfg.ok()) return Fail(cfg.status().message());

  const std::vector<SynthTensor> plan = SynthTensorPlan(*cfg);
  const std::vector<Shard> shards =
      MakeShards(plan, dtype, static_cast<uint64_t>(*shard_mb) << 20);
  uint64_t total = 0, params = 0;
  for (const Shard& s : shards) total += s.bytes;
  for (const SynthTensor& t : plan) params += static_cast<uint64_t>(NumElements(t.shape));

  const std::string demo_dir = AssetsDir().empty() ? "" : AssetsDir() + "/demo-model";
  StatusOr<std::string> tokenizer =
      ChooseTokenizer(args.Get("tokenizer"), cfg->language_config.vocab_size, demo_dir);
  if (!tokenizer.ok()) return Fail(tokenizer.status().message());

  if (dry_run) {
    ordered_json j = ordered_json::object();
    j["preset"] = preset->name;
    j["dtype"] = args.Get("dtype", "bf16");
    j["num_params"] = params;
    j["total_size"] = total;
    j["tokenizer"] = *tokenizer;
    j["config"] = config;
    j["shards"] = ordered_json::array();
    for (const Shard& s : shards)
      j["shards"].push_back({{"file", s.file}, {"size", s.bytes}, {"tensors", s.tensors.size()}});
    j["tensors"] = ordered_json::array();
    for (size_t k = 0; k < shards.size(); ++k)
      for (size_t i : shards[k].tensors) j["tensors"].push_back({plan[i].name, plan[i].shape, k});
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }

  const fs::path out = args.Get("out");
  st = PrepareOutDir(out, args.Has("force"));
  if (!st.ok()) return Fail(st.message());
  struct statvfs vfs;
  if (::statvfs(out.c_str(), &vfs) == 0) {
    const uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (avail < total + (64u << 20))
      return Fail("not enough disk space in " + out.string() + ": need " + Gb(total) + ", " +
                  Gb(avail) + " free");
  }

  // Small files first; the index is written last, so an interrupted run leaves no loadable model.
  st = WriteText(out / "config.json", config_text);
  if (st.ok()) st = WriteText(out / "processor_config.json", ProcessorConfig(config, *cfg));
  if (st.ok()) st = CopyFile(*tokenizer, out / "tokenizer.json");
  for (const char* f : {"tokenizer_config.json", "special_tokens_map.json"})
    if (st.ok()) st = CopyFile(fs::path(demo_dir) / f, out / f);
  if (!st.ok()) return Fail(st.message());

  const auto t0 = std::chrono::steady_clock::now();
  Progress progress(total);
  const uint64_t seed_value = static_cast<uint64_t>(*seed);
  nlohmann::json weight_map = nlohmann::json::object();  // std::map: sorted, as HF writes it
  for (const Shard& s : shards) {
    // Within a file, tensors sorted by name (the safetensors serializer's order).
    std::vector<size_t> order = s.tensors;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return plan[a].name < plan[b].name; });
    std::vector<TensorToWrite> tensors;
    tensors.reserve(order.size());
    for (size_t i : order) {
      const SynthTensor* t = &plan[i];
      const DType tdt = TensorDtype(*t, dtype);
      const uint64_t bytes = StorageBytes(tdt, t->shape);
      tensors.push_back({t->name, tdt, t->shape, [t, tdt, seed_value, bytes, &progress](uint8_t* o) {
                           FillTensor(*t, tdt, seed_value, o);
                           progress.Add(bytes);
                         }});
      weight_map[t->name] = s.file;
    }
    const fs::path path = out / s.file;
    st = WriteSafetensors(path.string(), tensors);
    if (!st.ok()) {
      std::error_code ec;
      fs::remove(path, ec);
      return Fail(st.message());
    }
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  st = WriteText(out / "model.safetensors.index.json", index.dump(2) + "\n");
  if (!st.ok()) return Fail(st.message());

  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("synth: wrote %s to %s: %s, %zu tensors, %.3fB params, %s in %zu shard%s, "
              "tokenizer %s, %.1f s (%.0f MB/s)\n",
              preset->name, out.c_str(), args.Get("dtype", "bf16").c_str(), plan.size(),
              static_cast<double>(params) / 1e9, Gb(total).c_str(), shards.size(),
              shards.size() == 1 ? "" : "s", TokenizerLabel(*tokenizer).c_str(), secs,
              secs > 0 ? static_cast<double>(total) / 1e6 / secs : 0.0);
  return 0;
}

}  // namespace dsvl2::tools
