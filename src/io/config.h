// config.json of a DeepSeek-VL2 checkpoint as typed structs. Field names are the HF names; keys
// absent from the file take the defaults of the official config classes (VisionEncoderConfig,
// MlpProjectorConfig, DeepseekV2Config), as the published Small and Base configs rely on.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dsvl2 {

struct VisionConfig {
  std::string model_name = "siglip_large_patch16_384";
  int image_size = 384;
  int patch_size = 16;
  int width = 1024;
  int layers = 24;
  int heads = 16;
  double mlp_ratio = 4.0;
  std::string global_pool = "map";
  bool ignore_head = true;
  bool class_token = false;
  int num_classes = 0;

  int mlp_hidden() const { return static_cast<int>(width * mlp_ratio); }  // official int() rounding
  int grid() const { return image_size / patch_size; }                    // 27 for 384/14
  int num_patches() const { return grid() * grid(); }
};

struct ProjectorConfig {
  std::string projector_type = "downsample_mlp_gelu";
  int input_dim = 1152;
  int n_embed = 2048;
  int depth = 2;
  int mlp_ratio = 1;
  int downsample_ratio = 2;
  bool token_pooling = false;
};

struct LanguageConfig {
  int vocab_size = 102400;
  int hidden_size = 4096;
  int intermediate_size = 11008;
  int moe_intermediate_size = 1407;
  int num_hidden_layers = 30;
  int num_attention_heads = 32;
  int num_key_value_heads = 32;
  int n_shared_experts = 0;   // null -> 0
  int n_routed_experts = 0;   // null -> 0 (dense model)
  double routed_scaling_factor = 1.0;
  int kv_lora_rank = 512;
  int q_lora_rank = 1536;     // 0 means null (no q compression)
  int qk_rope_head_dim = 64;
  int v_head_dim = 128;
  int qk_nope_head_dim = 128;
  std::string topk_method = "greedy";
  int n_group = 1;            // null -> 1
  int topk_group = 1;         // null -> 1
  int num_experts_per_tok = 0;
  int moe_layer_freq = 1;
  int first_k_dense_replace = 0;
  bool norm_topk_prob = false;
  std::string scoring_func = "softmax";
  std::string hidden_act = "silu";
  int max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  int bos_token_id = 100000;
  int eos_token_id = 100001;
  bool tie_word_embeddings = false;
  double rope_theta = 10000.0;
  bool attention_bias = false;
  bool use_mla = true;

  bool IsMoeLayer(int layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
  int qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  int mha_head_dim() const { return hidden_size / num_attention_heads; }
};

struct Vl2Config {
  std::vector<std::pair<int, int>> candidate_resolutions = {{384, 384}};  // (width, height)
  std::string tile_tag = "2D";
  std::string global_view_pos = "head";
  VisionConfig vision_config;
  ProjectorConfig projector_config;
  LanguageConfig language_config;
};

// Parses config.json text; `source` names the file in error messages. Refuses values the engine
// does not implement (another topk_method, rope_scaling, tile_tag, ...) with a clear message.
StatusOr<Vl2Config> ParseVl2Config(const std::string& json_text, const std::string& source);
StatusOr<Vl2Config> LoadVl2Config(const std::string& model_dir);

}  // namespace dsvl2
