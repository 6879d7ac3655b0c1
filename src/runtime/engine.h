// The whole DeepSeek-VL2 job for one conversation: processor (tokenizer, chat token path,
// PIL-exact tiling) -> vision -> inputs_embeds -> generation, with timings. `dsvl2 run` and the
// server both use it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/image.h"
#include "model/deepseek_vl2.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

namespace dsvl2 {

struct EngineOptions {
  int64_t kv_cache_mb = 1024;
  int kv_block_size = 16;
  // Language-model linear weights: "" = as stored, "bf16", "q8", "q4" (DeepseekVL2::Load).
  std::string weights;
  // Where the weights kept as stored live: "map" = the checkpoint's file mapping (4 KiB pages of
  // the page cache), "copy" = copied at load into anonymous memory on huge pages
  // (WeightConversion::copy_to_memory), "auto" = copy when the checkpoint plus the KV cache fit
  // in the available memory with 1 GiB to spare, else map. On the 2-core VM of docs/benchmarks
  // the copy decoded 1.15-1.45x faster (vl2-small, vl2-base q4_0; docs/DESIGN.md): streaming
  // gigabytes per token through 4 KiB pages costs a page walk per page.
  std::string weight_memory = "auto";
  // kernels::MatMulPrecision by name: "high" (default, f32 accuracy) or "medium" (bf16
  // activations in bf16-weight products with many rows where the CPU has AMX or AVX-512-BF16).
  // Process-wide: the last Load sets it.
  std::string matmul_precision = "high";
};

// Checks an EngineOptions::weight_memory value.
Status CheckWeightMemory(const std::string& v);
// Checks an EngineOptions::matmul_precision value.
Status CheckMatMulPrecision(const std::string& v);

// One message of a conversation with its decoded images (in the order of its <image> tags).
struct Turn {
  std::string role;     // system | user | assistant (or <|User|> / <|Assistant|>)
  std::string content;
  std::vector<Image> images;
};

// Processor output for one conversation.
struct PreparedPrompt {
  ChatTokens tokens;
  std::vector<ImageInput> images;              // normalised views per image
  std::vector<std::pair<int, int>> spatial_crop;  // [tiles_w, tiles_h] per image
  std::vector<const Image*> source_images;     // originals, for grounding boxes
};

struct Timings {
  double preprocess_ms = 0, vision_ms = 0, prefill_ms = 0, decode_ms = 0;
};

struct RunOutput {
  std::vector<int32_t> token_ids;
  std::string text;            // decoded, special tokens kept (as the official scripts)
  std::string finish_reason;   // stop | length | cancelled
  int64_t prompt_tokens = 0;
  Timings timings;
};

class Engine {
 public:
  static StatusOr<std::unique_ptr<Engine>> Load(const std::string& model_dir,
                                                const EngineOptions& options = {});

  const DeepseekVL2& model() const { return *model_; }
  // Whether the weights were copied into memory (weight_memory "copy", or "auto" that chose it).
  bool weights_copied() const { return weights_copied_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int64_t max_context() const { return model_->config().language_config.max_position_embeddings; }
  // The KV pool Run() allocates from (shared, thread-safe); the Scheduler uses it by default.
  KvPool* kv_pool() { return pool_.get(); }

  // Token ids, image mask and tiles exactly as DeepseekVLV2Processor (tiling only when the whole
  // conversation has <= 2 images). Errors name the problem (tag/image mismatch, roles, ...).
  StatusOr<PreparedPrompt> Prepare(const std::vector<Turn>& turns) const;

  // Runs vision + prefill + decode. `on_text` receives decoded text as it completes (may be
  // null); returning false cancels. Prompt + max_new_tokens beyond the context is an error.
  Status Run(const PreparedPrompt& prompt, const GenerationParams& params,
             const std::function<bool(const std::string&)>& on_text, RunOutput* out);

 private:
  std::unique_ptr<DeepseekVL2> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<KvPool> pool_;
  bool weights_copied_ = false;
};

}  // namespace dsvl2
