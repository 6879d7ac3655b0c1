#include "runtime/engine.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernels/kernels.h"
#include "tokenizer/stream_decoder.h"
#include "vision/preprocess.h"

namespace dsvl2 {
namespace {
double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// MemAvailable of /proc/meminfo in bytes, or -1 where it cannot be read.
int64_t AvailableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream fields(line.substr(13));
    int64_t kb = -1;
    fields >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

// Total size of the checkpoint's *.safetensors files.
int64_t CheckpointBytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors") total += static_cast<int64_t>(e.file_size(ec));
  return total;
}
}  // namespace

Status CheckWeightMemory(const std::string& v) {
  if (v == "auto" || v == "map" || v == "copy") return Status::Ok();
  return Status::Error("weight memory must be auto, map or copy, got '" + v + "'");
}

Status CheckMatMulPrecision(const std::string& v) {
  kernels::MatMulPrecision p;
  if (kernels::ParseMatMulPrecision(v, &p)) return Status::Ok();
  return Status::Error("matmul precision must be high or medium, got '" + v + "'");
}

StatusOr<std::unique_ptr<Engine>> Engine::Load(const std::string& model_dir,
                                               const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine());
  RETURN_IF_ERROR(CheckWeightMemory(options.weight_memory));
  RETURN_IF_ERROR(CheckMatMulPrecision(options.matmul_precision));
  kernels::MatMulPrecision precision;
  kernels::ParseMatMulPrecision(options.matmul_precision, &precision);
  kernels::SetMatMulPrecision(precision);
  bool copy = options.weight_memory == "copy";
  if (options.weight_memory == "auto") {
    const int64_t avail = AvailableMemoryBytes();
    copy = avail > 0 && CheckpointBytes(model_dir) + (options.kv_cache_mb << 20) + (int64_t{1} << 30) <= avail;
  }
  e->weights_copied_ = copy;
  ASSIGN_OR_RETURN(e->model_, DeepseekVL2::Load(model_dir, options.weights, copy));
  ASSIGN_OR_RETURN(e->tokenizer_, Tokenizer::FromModelDir(model_dir));
  e->tokenizer_->AddSpecialTokens(Vl2SpecialTokens());
  const DeepseekV2& lm = e->model_->language();
  e->pool_ = KvPool::WithBudget(lm.num_layers(), lm.kv_row_width(), options.kv_block_size,
                                options.kv_cache_mb << 20);
  return e;
}

StatusOr<PreparedPrompt> Engine::Prepare(const std::vector<Turn>& turns) const {
  PreparedPrompt p;
  std::vector<ChatMessage> messages;
  size_t total_images = 0;
  for (const Turn& t : turns) total_images += t.images.size();
  // The official processor tiles only when the whole conversation has at most two images.
  const bool cropping = total_images <= 2;
  const Vl2Config& cfg = model_->config();
  const int tile = cfg.vision_config.image_size;
  std::vector<int> counts;
  for (const Turn& t : turns) {
    messages.push_back({t.role, t.content, static_cast<int>(t.images.size())});
    for (const Image& img : t.images) {
      ImageTiles tiles = MakeTiles(img, cfg.candidate_resolutions, tile, cropping);
      ImageInput in;
      in.tiles_w = tiles.tiles_w;
      in.tiles_h = tiles.tiles_h;
      in.pixels.resize(tiles.tiles_u8.size());
      TilesToFloat(tiles.tiles_u8.data(), tiles.tiles_u8.size(), in.pixels.data());
      counts.push_back(static_cast<int>(model_->ImageTokens(in.tiles_w, in.tiles_h)));
      p.spatial_crop.push_back({in.tiles_w, in.tiles_h});
      p.images.push_back(std::move(in));
      p.source_images.push_back(&img);
    }
  }
  ASSIGN_OR_RETURN(p.tokens, BuildChatTokens(*tokenizer_, messages, counts));
  return p;
}

Status Engine::Run(const PreparedPrompt& prompt, const GenerationParams& params,
                   const std::function<bool(const std::string&)>& on_text, RunOutput* out) {
  *out = RunOutput();
  const auto& ids = prompt.tokens.input_ids;
  out->prompt_tokens = static_cast<int64_t>(ids.size());
  if (out->prompt_tokens + params.max_new_tokens > max_context())
    return Status::Error(StrFormat("prompt of %lld tokens + %d new tokens exceeds the model's context of %lld tokens",
                                   static_cast<long long>(out->prompt_tokens), params.max_new_tokens,
                                   static_cast<long long>(max_context())));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Tensor> image_embeds(prompt.images.size());
  for (size_t i = 0; i < prompt.images.size(); ++i)
    RETURN_IF_ERROR(model_->EncodeImage(prompt.images[i], &image_embeds[i]));
  Tensor embeds;
  RETURN_IF_ERROR(model_->BuildInputsEmbeds(ids, prompt.tokens.images_seq_mask, image_embeds, &embeds));
  out->timings.vision_ms = MsSince(t0);

  GenerationParams gp = params;
  if (auto eos = tokenizer_->eos_id()) gp.stop_ids.push_back(*eos);
  PagedSequenceKv kv(pool_.get());
  StreamDecoder decoder(*tokenizer_);
  GenerationResult res;
  Status st = Generate(model_->language(), &kv, embeds, ids, gp,
                       [&](int32_t tok) {
                         std::string piece = decoder.Push(tok);
                         out->text += piece;
                         return !on_text || piece.empty() || on_text(piece);
                       },
                       &res);
  RETURN_IF_ERROR(st);
  std::string tail = decoder.Flush();
  out->text += tail;
  if (on_text && !tail.empty()) on_text(tail);
  out->token_ids = std::move(res.tokens);
  out->finish_reason = res.finish_reason;
  out->timings.prefill_ms = res.prefill_ms;
  out->timings.decode_ms = res.decode_ms;
  return Status::Ok();
}

}  // namespace dsvl2
