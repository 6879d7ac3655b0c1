#include "tools/synth_presets.h"

#include <utility>

namespace dsvl2::tools {
namespace {

using nlohmann::ordered_json;

// --- DeepSeek-VL2 official configs (docs/deepseek-vl2.md §1.4) ---------------------------------

// Tiny: the language_config as rebuilt from the HF page head and [RTP] (docs §1.4): plain MHA
// (use_mla false), 64 experts top-6 softmax greedy, layer 0 dense.
constexpr const char* kVl2TinyLanguage = R"json({
  "architectures": ["DeepseekV2ForCausalLM"],
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV2Config",
    "AutoModel": "modeling_deepseek.DeepseekV2Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV2ForCausalLM"
  },
  "bos_token_id": 0,
  "eos_token_id": 1,
  "first_k_dense_replace": 1,
  "hidden_size": 1280,
  "intermediate_size": 6848,
  "kv_lora_rank": null,
  "lm_head": true,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v2",
  "moe_intermediate_size": 896,
  "n_group": 1,
  "n_routed_experts": 64,
  "n_shared_experts": 2,
  "num_attention_heads": 10,
  "num_experts_per_tok": 6,
  "num_hidden_layers": 12,
  "num_key_value_heads": 10,
  "q_lora_rank": null,
  "qk_nope_head_dim": 0,
  "qk_rope_head_dim": 0,
  "rm_head": false,
  "topk_group": 1,
  "topk_method": "greedy",
  "torch_dtype": "bfloat16",
  "use_mla": false,
  "v_head_dim": 0,
  "vocab_size": 129280
})json";

// Small: DeepSeek-V2-Lite shape. MLA without q compression; kv_lora_rank 512, qk_nope 128,
// qk_rope 64, v_head 128, use_mla true, softmax scoring, norm_topk_prob false and
// routed_scaling_factor 1.0 are all class defaults and, as in the published file, left out.
// vocab_size is 102400 (docs §1.6, not [RTP]'s 129280). bos/eos are left to the class defaults
// 100000/100001, the ids of the real Small tokenizer.
constexpr const char* kVl2SmallLanguage = R"json({
  "architectures": ["DeepseekV2ForCausalLM"],
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV2Config",
    "AutoModel": "modeling_deepseek.DeepseekV2Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV2ForCausalLM"
  },
  "first_k_dense_replace": 1,
  "hidden_size": 2048,
  "intermediate_size": 10944,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v2",
  "moe_intermediate_size": 1408,
  "n_group": 1,
  "n_routed_experts": 64,
  "n_shared_experts": 2,
  "num_attention_heads": 16,
  "num_experts_per_tok": 6,
  "num_hidden_layers": 27,
  "q_lora_rank": null,
  "topk_group": 1,
  "topk_method": "greedy",
  "torch_dtype": "bfloat16",
  "vocab_size": 102400
})json";

// Base: verbatim language_config of deepseek-ai/deepseek-vl2 (docs/checkpoints/
// vl2-base.config.json). num_hidden_layers 30 and num_attention_heads 32 are class defaults;
// noaux_tc sigmoid routing with e_score_correction_bias, norm_topk_prob, scaling 2.0.
constexpr const char* kVl2BaseLanguage = R"json({
  "architectures": ["DeepseekV2ForCausalLM"],
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV2Config",
    "AutoModel": "modeling_deepseek.DeepseekV2Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV2ForCausalLM"
  },
  "bos_token_id": 0,
  "eos_token_id": 1,
  "first_k_dense_replace": 1,
  "hidden_size": 2560,
  "intermediate_size": 12288,
  "lm_head": false,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v2",
  "moe_intermediate_size": 1536,
  "n_group": 1,
  "n_routed_experts": 72,
  "n_shared_experts": 2,
  "norm_topk_prob": true,
  "num_experts_per_tok": 6,
  "q_lora_rank": null,
  "rm_head": false,
  "routed_scaling_factor": 2.0,
  "scoring_func": "sigmoid",
  "topk_group": 1,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "vocab_size": 129280
})json";

// --- Baselines with other language models (VL2 vision tower and projector) ---------------------
// Expressed as DeepSeek-V2 language configs: plain MHA (use_mla false), SwiGLU FFNs, RMSNorm,
// full-head NeoX RoPE, untied lm_head. bos/eos are 0/1, the ids of the tokenizer synth ships for
// these vocabularies (the bundled byte-level one), not LLaMA's 1/2.

// LLaVA-1.5-7B's language model (Vicuna-7B v1.5 = LLaMA-2-7B shape): 32 layers, hidden 4096,
// FFN 11008, 32 heads of 128, vocab 32000, context 4096, rms_norm_eps 1e-5. All layers dense.
constexpr const char* kDense7bLanguage = R"json({
  "architectures": ["DeepseekV2ForCausalLM"],
  "bos_token_id": 0,
  "eos_token_id": 1,
  "hidden_size": 4096,
  "intermediate_size": 11008,
  "kv_lora_rank": null,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v2",
  "n_routed_experts": null,
  "n_shared_experts": null,
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 32,
  "q_lora_rank": null,
  "qk_nope_head_dim": 0,
  "qk_rope_head_dim": 0,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "torch_dtype": "bfloat16",
  "use_mla": false,
  "v_head_dim": 0,
  "vocab_size": 32000
})json";

// LLaVA-1.5-13B's language model (Vicuna-13B v1.5 = LLaMA-2-13B shape): 40 layers, hidden 5120,
// FFN 13824, 40 heads of 128, vocab 32000.
constexpr const char* kDense13bLanguage = R"json({
  "architectures": ["DeepseekV2ForCausalLM"],
  "bos_token_id": 0,
  "eos_token_id": 1,
  "hidden_size": 5120,
  "intermediate_size": 13824,
  "kv_lora_rank": null,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v2",
  "n_routed_experts": null,
  "n_shared_experts": null,
  "num_attention_heads": 40,
  "num_hidden_layers": 40,
  "num_key_value_heads": 40,
  "q_lora_rank": null,
  "qk_nope_head_dim": 0,
  "qk_rope_head_dim": 0,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "torch_dtype": "bfloat16",
  "use_mla": false,
  "v_head_dim": 0,
  "vocab_size": 32000
})json";

// MoE-LLaVA-Phi2-2.7B×4-Top2 (MoE-LLaVA's flagship): Phi-2 trunk (32 layers, hidden 2560,
// 32 heads of 80, vocab 51200, context 2048) with moe_mode "sparse": MoE in every other layer
// starting at layer 0 (MoE-LLaVA's moe_layers_idx = range(num_layers)[::2]), i.e.
// first_k_dense_replace 0 + moe_layer_freq 2 (IsMoeLayer: l >= 0 && l % 2 == 0), 4 experts,
// top-2 with renormalised weights (DeepSpeed top-2 gating), no shared experts. Each expert is a
// copy of the FFN. Phi-2's FFN is a 2-matrix GELU MLP of width 10240; as a SwiGLU (3 matrices) we
// use width 6848 ≈ 2/3·10240 so parameter and FLOP counts match: ~5.3 B in the language model,
// ~3.5 B activated per token (the paper reports 3.6 B activated with its CLIP tower).
constexpr const char* kMoeLlavaLanguage = R"json({
  "architectures": ["DeepseekV2ForCausalLM"],
  "bos_token_id": 0,
  "eos_token_id": 1,
  "first_k_dense_replace": 0,
  "hidden_size": 2560,
  "intermediate_size": 6848,
  "kv_lora_rank": null,
  "max_position_embeddings": 2048,
  "model_type": "deepseek_v2",
  "moe_intermediate_size": 6848,
  "moe_layer_freq": 2,
  "n_group": 1,
  "n_routed_experts": 4,
  "n_shared_experts": null,
  "norm_topk_prob": true,
  "num_attention_heads": 32,
  "num_experts_per_tok": 2,
  "num_hidden_layers": 32,
  "num_key_value_heads": 32,
  "q_lora_rank": null,
  "qk_nope_head_dim": 0,
  "qk_rope_head_dim": 0,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "routed_scaling_factor": 1.0,
  "scoring_func": "softmax",
  "topk_group": 1,
  "topk_method": "greedy",
  "torch_dtype": "bfloat16",
  "use_mla": false,
  "v_head_dim": 0,
  "vocab_size": 51200
})json";

// The 23 official candidate resolutions [w, h], in the published order (docs §1.1).
constexpr int kCandidateResolutions[23][2] = {
    {384, 384},   {384, 768},   {768, 384},   {384, 1152},  {1152, 384},  {384, 1536},
    {1536, 384},  {768, 768},   {384, 1920},  {1920, 384},  {384, 2304},  {2304, 384},
    {768, 1152},  {1152, 768},  {384, 2688},  {2688, 384},  {384, 3072},  {3072, 384},
    {768, 1536},  {1536, 768},  {384, 3456},  {3456, 384},  {1152, 1152}};

}  // namespace

const std::vector<SynthPreset>& SynthPresets() {
  static const std::vector<SynthPreset> kPresets = {
      {"vl2-tiny", "DeepSeek-VL2-Tiny (3.37B, MHA, 64 experts top-6)", kVl2TinyLanguage},
      {"vl2-small", "DeepSeek-VL2-Small (16.1B, MLA, 64 experts top-6, vocab 102400)",
       kVl2SmallLanguage},
      {"vl2-base", "DeepSeek-VL2 (27.5B, MLA, 72 experts top-6 noaux_tc)", kVl2BaseLanguage},
      {"dense-7b", "LLaVA-1.5-7B-like dense LM (32 x 4096, FFN 11008, MHA, vocab 32000)",
       kDense7bLanguage},
      {"dense-13b", "LLaVA-1.5-13B-like dense LM (40 x 5120, FFN 13824, MHA, vocab 32000)",
       kDense13bLanguage},
      {"moe-llava", "MoE-LLaVA-Phi2-like (32 x 2560, top-2 of 4 experts every other layer)",
       kMoeLlavaLanguage},
  };
  return kPresets;
}

const SynthPreset* FindSynthPreset(std::string_view name) {
  for (const SynthPreset& p : SynthPresets())
    if (name == p.name) return &p;
  return nullptr;
}

std::string SynthPresetNames() {
  std::string s;
  for (const SynthPreset& p : SynthPresets()) {
    if (!s.empty()) s += ", ";
    s += p.name;
  }
  return s;
}

ordered_json SynthConfigJson(const SynthPreset& preset) {
  ordered_json lang = ordered_json::parse(preset.language_config);
  ordered_json res = ordered_json::array();
  for (const auto& r : kCandidateResolutions) res.push_back({r[0], r[1]});
  ordered_json c = ordered_json::object();
  c["candidate_resolutions"] = std::move(res);
  c["global_view_pos"] = "head";
  const int hidden = lang["hidden_size"].get<int>();
  c["language_config"] = std::move(lang);
  c["model_type"] = "deepseek_vl_v2";
  c["projector_config"] = {{"model_type", "mlp_projector"}, {"n_embed", hidden}};
  c["tile_tag"] = "2D";
  c["torch_dtype"] = "bfloat16";
  c["transformers_version"] = "4.38.2";
  // SigLIP-SO400M/14 at 384 as published; heads (16), image_size (384), global_pool ("map") and
  // ignore_head (true) are VisionEncoderConfig defaults.
  c["vision_config"] = {{"layers", 27},        {"mlp_ratio", 3.7362},
                        {"model_name", "siglip_so400m_patch14_384"},
                        {"model_type", "vision"}, {"patch_size", 14},
                        {"width", 1152}};
  return c;
}

std::vector<SynthTensor> SynthTensorPlan(const Vl2Config& cfg) {
  std::vector<SynthTensor> out;
  auto add = [&](std::string name, Shape shape, SynthInit init = SynthInit::kNormal) {
    out.push_back({std::move(name), std::move(shape), init});
  };
  auto linear = [&](const std::string& pre, int64_t o, int64_t i, bool bias) {
    add(pre + ".weight", {o, i});
    if (bias) add(pre + ".bias", {o}, SynthInit::kZeros);
  };
  auto layer_norm = [&](const std::string& pre, int64_t n) {
    add(pre + ".weight", {n}, SynthInit::kOnes);
    add(pre + ".bias", {n}, SynthInit::kZeros);
  };

  // Vision tower (timm VisionTransformer, siglip_vit.py).
  const VisionConfig& v = cfg.vision_config;
  const int64_t w = v.width, m = v.mlp_hidden(), p = v.patch_size;
  add("vision.patch_embed.proj.weight", {w, 3, p, p});
  add("vision.patch_embed.proj.bias", {w}, SynthInit::kZeros);
  add("vision.pos_embed", {1, v.num_patches(), w});
  for (int b = 0; b < v.layers; ++b) {
    const std::string pre = "vision.blocks." + std::to_string(b) + ".";
    layer_norm(pre + "norm1", w);
    linear(pre + "attn.qkv", 3 * w, w, true);
    linear(pre + "attn.proj", w, w, true);
    layer_norm(pre + "norm2", w);
    linear(pre + "mlp.fc1", m, w, true);
    linear(pre + "mlp.fc2", w, m, true);
  }
  layer_norm("vision.norm", w);
  if (v.global_pool == "map") {  // AttentionPoolLatent: in the checkpoint, never executed
    add("vision.attn_pool.latent", {1, 1, w});
    linear("vision.attn_pool.q", w, w, true);
    linear("vision.attn_pool.kv", 2 * w, w, true);
    linear("vision.attn_pool.proj", w, w, true);
    layer_norm("vision.attn_pool.norm", w);
    linear("vision.attn_pool.mlp.fc1", m, w, true);
    linear("vision.attn_pool.mlp.fc2", w, m, true);
  }

  // Projector: Linear i at projector.layers.{2i} (GELUs between them hold no weights).
  const ProjectorConfig& pc = cfg.projector_config;
  const int64_t r = pc.downsample_ratio, ph = static_cast<int64_t>(pc.n_embed) * pc.mlp_ratio;
  for (int i = 0; i < pc.depth; ++i) {
    const int64_t in = i == 0 ? pc.input_dim * r * r : ph;
    const int64_t o = i == pc.depth - 1 ? pc.n_embed : ph;
    linear("projector.layers." + std::to_string(2 * i), o, in, true);
  }
  const LanguageConfig& l = cfg.language_config;
  const int64_t d = l.hidden_size, vocab = l.vocab_size;
  add("image_newline", {d});
  add("view_seperator", {d});  // (sic) the official name

  // Language model (modeling_deepseek.py DeepseekV2ForCausalLM).
  auto swiglu = [&](const std::string& pre, int64_t inter) {
    linear(pre + "gate_proj", inter, d, false);
    linear(pre + "up_proj", inter, d, false);
    linear(pre + "down_proj", d, inter, false);
  };
  add("language.model.embed_tokens.weight", {vocab, d});
  for (int li = 0; li < l.num_hidden_layers; ++li) {
    const std::string pre = "language.model.layers." + std::to_string(li) + ".";
    add(pre + "input_layernorm.weight", {d}, SynthInit::kOnes);
    add(pre + "post_attention_layernorm.weight", {d}, SynthInit::kOnes);
    const std::string at = pre + "self_attn.";
    const int64_t heads = l.num_attention_heads;
    if (l.use_mla) {
      const int64_t qh = l.qk_head_dim();
      if (l.q_lora_rank > 0) {
        linear(at + "q_a_proj", l.q_lora_rank, d, false);
        add(at + "q_a_layernorm.weight", {l.q_lora_rank}, SynthInit::kOnes);
        linear(at + "q_b_proj", heads * qh, l.q_lora_rank, false);
      } else {
        linear(at + "q_proj", heads * qh, d, false);
      }
      linear(at + "kv_a_proj_with_mqa", l.kv_lora_rank + l.qk_rope_head_dim, d, false);
      add(at + "kv_a_layernorm.weight", {l.kv_lora_rank}, SynthInit::kOnes);
      linear(at + "kv_b_proj", heads * (l.qk_nope_head_dim + l.v_head_dim), l.kv_lora_rank, false);
      linear(at + "o_proj", d, heads * l.v_head_dim, false);
    } else {
      const int64_t hd = heads * l.mha_head_dim();
      linear(at + "q_proj", hd, d, false);
      linear(at + "k_proj", hd, d, false);
      linear(at + "v_proj", hd, d, false);
      linear(at + "o_proj", d, hd, false);
    }
    if (l.IsMoeLayer(li)) {
      add(pre + "mlp.gate.weight", {l.n_routed_experts, d});
      if (l.topk_method == "noaux_tc")
        add(pre + "mlp.gate.e_score_correction_bias", {l.n_routed_experts}, SynthInit::kSmall);
      for (int e = 0; e < l.n_routed_experts; ++e)
        swiglu(pre + "mlp.experts." + std::to_string(e) + ".", l.moe_intermediate_size);
      if (l.n_shared_experts > 0)
        swiglu(pre + "mlp.shared_experts.",
               static_cast<int64_t>(l.moe_intermediate_size) * l.n_shared_experts);
    } else {
      swiglu(pre + "mlp.", l.intermediate_size);
    }
  }
  add("language.model.norm.weight", {d}, SynthInit::kOnes);
  add("language.lm_head.weight", {vocab, d});
  return out;
}

}  // namespace dsvl2::tools
