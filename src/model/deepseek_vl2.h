// DeepSeek-VL2 (official DeepseekVLV2ForCausalLM): SigLIP tower -> projector -> 2D tile layout
// with image_newline / view_seperator, scattered into the token embeddings where the image
// placeholder tokens stand, then the DeepSeek-V2 language model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "lm/deepseek_v2.h"
#include "vision/projector.h"
#include "vision/siglip.h"

namespace dsvl2 {

// One image as the processor prepared it: 1 + tiles_w*tiles_h views of S×S pixels (global view
// first, then the local tiles row-major), CHW, normalised to [-1, 1].
struct ImageInput {
  int tiles_w = 1, tiles_h = 1;  // images_spatial_crop = [tiles_w, tiles_h]
  std::vector<float> pixels;     // [(1 + tw*th), 3, S, S]
};

class DeepseekVL2 {
 public:
  // Opens config.json and the safetensors checkpoint (memory-mapped) and checks every tensor the
  // model needs before computing anything. `weights` converts the language model's linear
  // weights at load time (IsQuantizableWeight): "" = as stored, "bf16", "q8", "q4"; the copies
  // are owned by the model. Checkpoints already quantized (dsvl2 quantize) load as they are.
  // `copy_weights`: matrices kept as stored are copied into memory (WeightConversion::copy_to_memory).
  static StatusOr<std::unique_ptr<DeepseekVL2>> Load(const std::string& model_dir,
                                                     const std::string& weights = "", bool copy_weights = false);

  // The tensors --weights / dsvl2 quantize convert: the language model's linear layers (attention
  // projections except kv_b_proj, which MLA also uses transposed; dense MLP; shared and routed
  // experts; lm_head). Embeddings, norms, the router gate, the vision tower and the projector
  // stay as stored.
  static bool IsQuantizableWeight(const std::string& name);

  const Vl2Config& config() const { return cfg_; }
  const DeepseekV2& language() const { return lm_; }
  int tile_size() const { return cfg_.vision_config.image_size; }
  int tokens_per_side() const { return projector_.out_side(); }
  int64_t ImageTokens(int tiles_w, int tiles_h) const;

  // Vision tower over tiles [B,3,S,S] -> [B, N, width].
  void VisionFeatures(const float* tiles, int64_t batch, Tensor* out) const;
  // Projector over features [B, N, width] -> [B, side^2, hidden].
  void Project(const Tensor& features, Tensor* out) const { projector_.Forward(features, out); }
  // All views of one image -> its embedding rows [ImageTokens(tw, th), hidden].
  Status EncodeImage(const ImageInput& image, Tensor* out) const;

  // inputs_embeds [T, hidden]: token embeddings, with the rows where images_seq_mask is set
  // replaced, in order, by the concatenated image embeddings.
  Status BuildInputsEmbeds(const std::vector<int32_t>& input_ids,
                           const std::vector<uint8_t>& images_seq_mask,
                           const std::vector<Tensor>& image_embeds, Tensor* out) const;

 private:
  Vl2Config cfg_;
  std::unique_ptr<TensorStore> store_;
  OwnedWeights converted_;  // load-time converted copies (before the views into them)
  SiglipVisionTower vision_;
  Projector projector_;
  std::vector<float> image_newline_, view_separator_;
  DeepseekV2 lm_;
};

}  // namespace dsvl2
