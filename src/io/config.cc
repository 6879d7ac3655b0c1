#include "io/config.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"

namespace dsvl2 {
namespace {

using nlohmann::json;

// Reads obj[key] into *out when present and not null; type mismatches are errors.
class Reader {
 public:
  Reader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  template <typename T>
  void Get(const char* key, T* out) {
    if (!status_.ok()) return;
    auto it = obj_.find(key);
    if (it == obj_.end() || it->is_null()) return;
    bool ok;
    if constexpr (std::is_same_v<T, bool>) {
      ok = it->is_boolean();
    } else if constexpr (std::is_same_v<T, std::string>) {
      ok = it->is_string();
    } else if constexpr (std::is_integral_v<T>) {
      ok = it->is_number_integer() ||
           (it->is_number_float() && it->get<double>() == static_cast<double>(static_cast<int64_t>(it->get<double>())));
    } else {
      ok = it->is_number();
    }
    if (!ok) {
      status_ = Status::Error(where_ + "." + key + ": unexpected type (" + it->type_name() + ")");
      return;
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      *out = static_cast<T>(it->get<double>());
    } else {
      *out = it->get<T>();
    }
  }
  bool IsNull(const char* key) const {
    auto it = obj_.find(key);
    return it != obj_.end() && it->is_null();
  }
  bool Has(const char* key) const { return obj_.contains(key); }
  Status status() const { return status_; }

 private:
  const json& obj_;
  std::string where_;
  Status status_;
};

Status ParseVision(const json& j, const std::string& where, VisionConfig* c) {
  Reader r(j, where);
  r.Get("model_name", &c->model_name);
  r.Get("image_size", &c->image_size);
  r.Get("patch_size", &c->patch_size);
  r.Get("width", &c->width);
  r.Get("layers", &c->layers);
  r.Get("heads", &c->heads);
  r.Get("mlp_ratio", &c->mlp_ratio);
  r.Get("global_pool", &c->global_pool);
  r.Get("ignore_head", &c->ignore_head);
  r.Get("class_token", &c->class_token);
  r.Get("num_classes", &c->num_classes);
  RETURN_IF_ERROR(r.status());
  if (c->width <= 0 || c->layers <= 0 || c->heads <= 0 || c->width % c->heads != 0)
    return Status::Error(where + ": width must be a positive multiple of heads");
  if (c->patch_size <= 0 || c->image_size < c->patch_size)
    return Status::Error(where + ": bad image_size/patch_size");
  if (!c->ignore_head)
    return Status::Error(where + ".ignore_head=false: the attention-pool head is not implemented");
  if (c->class_token) return Status::Error(where + ".class_token=true is not implemented");
  if (c->mlp_hidden() <= 0) return Status::Error(where + ": mlp_ratio gives an empty MLP");
  return Status::Ok();
}

Status ParseProjector(const json& j, const std::string& where, ProjectorConfig* c) {
  Reader r(j, where);
  r.Get("projector_type", &c->projector_type);
  r.Get("input_dim", &c->input_dim);
  r.Get("n_embed", &c->n_embed);
  r.Get("depth", &c->depth);
  r.Get("mlp_ratio", &c->mlp_ratio);
  r.Get("downsample_ratio", &c->downsample_ratio);
  r.Get("token_pooling", &c->token_pooling);
  RETURN_IF_ERROR(r.status());
  if (c->projector_type != "downsample_mlp_gelu")
    return Status::Error(where + ".projector_type '" + c->projector_type +
                         "' is not implemented (only downsample_mlp_gelu)");
  if (c->token_pooling) return Status::Error(where + ".token_pooling=true is not implemented");
  if (c->depth < 1 || c->mlp_ratio < 1 || c->downsample_ratio < 1 || c->n_embed <= 0)
    return Status::Error(where + ": depth, mlp_ratio, downsample_ratio and n_embed must be positive");
  return Status::Ok();
}

Status ParseLanguage(const json& j, const std::string& where, LanguageConfig* c) {
  Reader r(j, where);
  r.Get("vocab_size", &c->vocab_size);
  r.Get("hidden_size", &c->hidden_size);
  r.Get("intermediate_size", &c->intermediate_size);
  r.Get("moe_intermediate_size", &c->moe_intermediate_size);
  r.Get("num_hidden_layers", &c->num_hidden_layers);
  r.Get("num_attention_heads", &c->num_attention_heads);
  c->num_key_value_heads = c->num_attention_heads;
  r.Get("num_key_value_heads", &c->num_key_value_heads);
  r.Get("n_shared_experts", &c->n_shared_experts);
  r.Get("n_routed_experts", &c->n_routed_experts);
  r.Get("routed_scaling_factor", &c->routed_scaling_factor);
  r.Get("kv_lora_rank", &c->kv_lora_rank);
  if (r.IsNull("q_lora_rank")) c->q_lora_rank = 0;
  r.Get("q_lora_rank", &c->q_lora_rank);
  r.Get("qk_rope_head_dim", &c->qk_rope_head_dim);
  r.Get("v_head_dim", &c->v_head_dim);
  r.Get("qk_nope_head_dim", &c->qk_nope_head_dim);
  r.Get("topk_method", &c->topk_method);
  r.Get("n_group", &c->n_group);
  r.Get("topk_group", &c->topk_group);
  r.Get("num_experts_per_tok", &c->num_experts_per_tok);
  r.Get("moe_layer_freq", &c->moe_layer_freq);
  r.Get("first_k_dense_replace", &c->first_k_dense_replace);
  r.Get("norm_topk_prob", &c->norm_topk_prob);
  r.Get("scoring_func", &c->scoring_func);
  r.Get("hidden_act", &c->hidden_act);
  r.Get("max_position_embeddings", &c->max_position_embeddings);
  r.Get("rms_norm_eps", &c->rms_norm_eps);
  r.Get("bos_token_id", &c->bos_token_id);
  r.Get("eos_token_id", &c->eos_token_id);
  r.Get("tie_word_embeddings", &c->tie_word_embeddings);
  r.Get("rope_theta", &c->rope_theta);
  r.Get("attention_bias", &c->attention_bias);
  r.Get("use_mla", &c->use_mla);
  RETURN_IF_ERROR(r.status());

  auto fail = [&](const std::string& m) { return Status::Error(where + m); };
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    return fail(".rope_scaling: " + j["rope_scaling"].dump() +
                " is not implemented (only plain RoPE, rope_scaling null)");
  if (c->topk_method != "greedy" && c->topk_method != "group_limited_greedy" &&
      c->topk_method != "noaux_tc")
    return fail(".topk_method '" + c->topk_method +
                "' is not implemented (greedy, group_limited_greedy, noaux_tc)");
  if (c->scoring_func != "softmax" && c->scoring_func != "sigmoid")
    return fail(".scoring_func '" + c->scoring_func + "' is not implemented (softmax, sigmoid)");
  if (c->topk_method == "noaux_tc" && c->scoring_func != "sigmoid")
    return fail(": topk_method noaux_tc requires scoring_func sigmoid");
  if (c->hidden_act != "silu") return fail(".hidden_act '" + c->hidden_act + "' is not implemented (silu)");
  if (c->attention_bias) return fail(".attention_bias=true is not implemented");
  if (c->tie_word_embeddings) return fail(".tie_word_embeddings=true is not implemented");
  if (c->vocab_size <= 0 || c->hidden_size <= 0 || c->num_hidden_layers <= 0 ||
      c->num_attention_heads <= 0)
    return fail(": vocab_size, hidden_size, num_hidden_layers, num_attention_heads must be positive");
  if (c->moe_layer_freq <= 0) return fail(".moe_layer_freq must be positive");
  if (c->use_mla) {
    if (c->kv_lora_rank <= 0 || c->qk_rope_head_dim <= 0 || c->qk_rope_head_dim % 2 != 0 ||
        c->qk_nope_head_dim < 0 || c->v_head_dim <= 0)
      return fail(": MLA needs kv_lora_rank > 0, an even qk_rope_head_dim > 0, v_head_dim > 0");
  } else {
    if (c->hidden_size % c->num_attention_heads != 0 || c->mha_head_dim() % 2 != 0)
      return fail(": hidden_size must split into heads of even size");
    if (c->num_key_value_heads != c->num_attention_heads)
      return fail(": grouped-query attention (num_key_value_heads != num_attention_heads) is not implemented");
  }
  if (c->n_routed_experts > 0) {
    if (c->num_experts_per_tok <= 0 || c->num_experts_per_tok > c->n_routed_experts)
      return fail(": num_experts_per_tok must be in 1..n_routed_experts");
    if (c->n_group <= 0 || c->n_routed_experts % c->n_group != 0 || c->topk_group <= 0 ||
        c->topk_group > c->n_group)
      return fail(": n_group must divide n_routed_experts and topk_group must be in 1..n_group");
    if (c->topk_method != "greedy" &&
        c->topk_group * (c->n_routed_experts / c->n_group) < c->num_experts_per_tok)
      return fail(": topk_group groups hold fewer experts than num_experts_per_tok");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Vl2Config> ParseVl2Config(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error(source + ": not a valid JSON object");
  Vl2Config c;
  if (j.contains("model_type") && j["model_type"] != "deepseek_vl_v2")
    return Status::Error(source + ": model_type " + j["model_type"].dump() +
                         " is not deepseek_vl_v2");
  if (j.contains("candidate_resolutions")) {
    const json& cr = j["candidate_resolutions"];
    if (!cr.is_array() || cr.empty())
      return Status::Error(source + ": candidate_resolutions must be a non-empty array");
    c.candidate_resolutions.clear();
    for (const auto& p : cr) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() || !p[1].is_number_integer() ||
          p[0].get<int>() <= 0 || p[1].get<int>() <= 0)
        return Status::Error(source + ": candidate_resolutions entries must be [width, height]");
      c.candidate_resolutions.emplace_back(p[0].get<int>(), p[1].get<int>());
    }
  }
  Reader r(j, source);
  r.Get("tile_tag", &c.tile_tag);
  r.Get("global_view_pos", &c.global_view_pos);
  RETURN_IF_ERROR(r.status());
  if (c.tile_tag != "2D") return Status::Error(source + ": tile_tag '" + c.tile_tag + "' is not implemented (2D)");
  if (c.global_view_pos != "head")
    return Status::Error(source + ": global_view_pos '" + c.global_view_pos + "' is not implemented (head)");
  for (const char* key : {"vision_config", "projector_config", "language_config"}) {
    if (!j.contains(key) || !j[key].is_object())
      return Status::Error(source + ": missing object " + key);
  }
  RETURN_IF_ERROR(ParseVision(j["vision_config"], source + ": vision_config", &c.vision_config));
  RETURN_IF_ERROR(ParseProjector(j["projector_config"], source + ": projector_config", &c.projector_config));
  RETURN_IF_ERROR(ParseLanguage(j["language_config"], source + ": language_config", &c.language_config));
  const int tile = c.vision_config.image_size;
  for (auto [w, h] : c.candidate_resolutions)
    if (w % tile != 0 || h % tile != 0)
      return Status::Error(source + StrFormat(": candidate resolution %dx%d is not a multiple of the %d tile", w, h, tile));
  if (c.projector_config.input_dim != c.vision_config.width)
    return Status::Error(source + StrFormat(": projector_config.input_dim %d != vision_config.width %d",
                                            c.projector_config.input_dim, c.vision_config.width));
  if (c.projector_config.n_embed != c.language_config.hidden_size)
    return Status::Error(source + StrFormat(": projector_config.n_embed %d != language_config.hidden_size %d",
                                            c.projector_config.n_embed, c.language_config.hidden_size));
  return c;
}

StatusOr<Vl2Config> LoadVl2Config(const std::string& model_dir) {
  std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseVl2Config(text, path);
}

}  // namespace dsvl2
