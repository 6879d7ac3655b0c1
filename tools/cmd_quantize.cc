// dsvl2 quantize --model DIR --out DIR --type q8|q4: writes a copy of a model directory whose
// language-model linear weights (DeepseekVL2::IsQuantizableWeight, last dimension a multiple of
// 32) are block-quantized (docs/FORMATS.md); every other tensor is copied as stored, and so are
// config.json, the tokenizer and processor files. Tensors are converted one at a time inside the
// safetensors writer's fill callback straight from the memory-mapped source, so memory stays
// bounded by the largest tensor. Quantized tensors are U8 with their format in __metadata__;
// DeepseekVL2::Load reads them memory-mapped as they are.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/quant.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "io/weights.h"
#include "model/deepseek_vl2.h"
#include "tools/args.h"

namespace dsvl2::tools {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "usage: dsvl2 quantize --model DIR --out DIR --type q8|q4 [--max-shard-mb N] [--force]\n"
    "Writes a copy of the model with the language model's linear weights block-quantized\n"
    "(q8 = q8_0: 1.0625 bytes/weight, q4 = q4_0: 0.5625 bytes/weight; docs/FORMATS.md).\n"
    "Embeddings, norms, the router, the vision tower and the projector are copied as stored.\n"
    "  --max-shard-mb N   shard size cap in MiB (default 8192)\n"
    "  --force            write into a non-empty DIR (replaces model*.safetensors there)\n";

int Fail(const std::string& message) {
  std::fprintf(stderr, "dsvl2 quantize: %s\n", message.c_str());
  return 1;
}

struct Planned {
  std::string name;
  const TensorView* src;
  DType dtype;  // as written
  uint64_t bytes;
};

}  // namespace

int RunQuantize(int argc, char** argv) {
  Args args({"model", "out", "type", "max-shard-mb"}, {"force", "help"});
  Status st = args.Parse(argc, argv);
  if (!st.ok() || args.Has("help")) {
    if (!st.ok()) std::fprintf(stderr, "dsvl2 quantize: %s\n", st.message().c_str());
    std::fprintf(stderr, "%s", kUsage);
    return st.ok() ? 0 : 2;
  }
  if (args.Get("model").empty() || args.Get("out").empty() || args.Get("type").empty()) {
    std::fprintf(stderr, "dsvl2 quantize: --model, --out and --type are required\n%s", kUsage);
    return 2;
  }
  DType target;
  if (!ParseQuantFormat(args.Get("type"), &target)) return Fail("--type must be q8 or q4, got '" + args.Get("type") + "'");
  auto shard_mb = args.GetInt("max-shard-mb", 8192, 1, int64_t{1} << 30);
  if (!shard_mb.ok()) return Fail(shard_mb.status().message());
  const fs::path in = args.Get("model"), out = args.Get("out");
  std::error_code ec;
  if (fs::equivalent(in, out, ec)) return Fail("--out must differ from --model");

  auto cfg = LoadVl2Config(in.string());
  if (!cfg.ok()) return Fail(cfg.status().message());
  auto store = TensorStore::OpenDir(in.string());
  if (!store.ok()) return Fail(store.status().message());

  std::vector<Planned> plan;
  uint64_t in_bytes = 0, total = 0;
  int quantized = 0;
  for (const std::string& name : (*store)->Names()) {
    const TensorView* v = (*store)->Find(name);
    DType dt = v->dtype;
    const bool is_float = dt == DType::kF32 || dt == DType::kF16 || dt == DType::kBF16 || IsQuantized(dt);
    if (DeepseekVL2::IsQuantizableWeight(name) && v->rank() == 2 && is_float && v->dim(1) % kQuantBlock == 0) {
      dt = target;
      ++quantized;
    }
    const uint64_t b = StorageBytes(dt, v->shape);
    plan.push_back({name, v, dt, b});
    in_bytes += v->nbytes();
    total += b;
  }
  if (quantized == 0) return Fail(in.string() + ": no tensor to quantize (no language-model linear weights)");

  if (fs::exists(out, ec)) {
    if (!fs::is_directory(out, ec)) return Fail(out.string() + " exists and is not a directory");
    if (!fs::is_empty(out, ec) && !args.Has("force"))
      return Fail(out.string() + " is not empty (use --force to write into it)");
    for (const auto& e : fs::directory_iterator(out, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("model", 0) == 0 && (n.ends_with(".safetensors") || n == "model.safetensors.index.json"))
        fs::remove(e.path(), ec);
    }
  } else {
    fs::create_directories(out, ec);
    if (ec) return Fail("cannot create " + out.string() + ": " + ec.message());
  }
  // Every file but the weights (config, tokenizer, processor, ...) is copied.
  for (const auto& e : fs::directory_iterator(in, ec)) {
    const std::string n = e.path().filename().string();
    if (!e.is_regular_file() || n.ends_with(".safetensors") || n == "model.safetensors.index.json") continue;
    fs::copy_file(e.path(), out / n, fs::copy_options::overwrite_existing, ec);
    if (ec) return Fail("cannot copy " + e.path().string() + ": " + ec.message());
  }

  // Shards as transformers' shard_checkpoint: in order, a new one when the cap would be passed.
  const uint64_t cap = static_cast<uint64_t>(*shard_mb) << 20;
  std::vector<std::vector<size_t>> shards(1);
  uint64_t cur = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!shards.back().empty() && cur + plan[i].bytes > cap) {
      shards.emplace_back();
      cur = 0;
    }
    shards.back().push_back(i);
    cur += plan[i].bytes;
  }
  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file = StrFormat("model-%05zu-of-%06zu.safetensors", s + 1, shards.size());
    std::vector<TensorToWrite> tensors;
    for (size_t i : shards[s]) {
      const Planned* p = &plan[i];
      tensors.push_back({p->name, p->dtype, p->src->shape, [p](uint8_t* o) {
                           if (p->dtype == p->src->dtype) {
                             std::memcpy(o, p->src->data, p->bytes);
                           } else {
                             ConvertMatrixInto(*p->src, p->dtype, o);
                           }
                         }});
      weight_map[p->name] = file;
    }
    st = WriteSafetensors((out / file).string(), tensors);
    if (!st.ok()) return Fail(st.message());
    std::fprintf(stderr, "quantize: wrote %s (%zu tensors)\n", file.c_str(), tensors.size());
  }
  nlohmann::json index = {{"metadata", {{"total_size", total}, {"dsvl2_quantization", QuantFormatName(target)}}},
                          {"weight_map", weight_map}};
  std::ofstream f(out / "model.safetensors.index.json", std::ios::trunc);
  f << index.dump(2) << "\n";
  f.close();
  if (!f) return Fail("cannot write " + (out / "model.safetensors.index.json").string());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("quantize: %s -> %s: %d tensors as %s, %zu copied; %.2f GB -> %.2f GB in %zu shard%s, %.1f s\n",
              in.c_str(), out.c_str(), quantized, QuantFormatName(target), plan.size() - quantized,
              static_cast<double>(in_bytes) / 1e9, static_cast<double>(total) / 1e9, shards.size(),
              shards.size() == 1 ? "" : "s", secs);
  return 0;
}

}  // namespace dsvl2::tools
