// FLOP counts for `dsvl2 bench`: 2*m*n*k for every matrix product of the forward pass as the
// engine computes it (MLA in its absorbed form), plus the attention products q·k and p·v over the
// keys each query attends to (causal in the language model, full in the vision tower).
// Element-wise work (norms, RoPE, activations, softmax) is not counted.
#include "tools/bench.h"

namespace dsvl2::tools::bench {

double LmForwardFlops(const LanguageConfig& c, int64_t past, int64_t n, int64_t logit_rows) {
  const double d = c.hidden_size, heads = c.num_attention_heads, t = static_cast<double>(n);
  // Keys attended, summed over the new tokens: token i sees past + i + 1 keys.
  const double keys = t * static_cast<double>(past) + t * (t + 1) / 2;
  double per_token = 0, attn_per_key = 0;
  if (c.use_mla) {
    const double qh = c.qk_nope_head_dim + c.qk_rope_head_dim, lora = c.kv_lora_rank,
                 rope = c.qk_rope_head_dim, v = c.v_head_dim, nope = c.qk_nope_head_dim;
    const double q =
        c.q_lora_rank > 0 ? d * c.q_lora_rank + c.q_lora_rank * heads * qh : d * heads * qh;
    per_token += q + d * (lora + rope) + heads * nope * lora + heads * lora * v + heads * v * d;
    attn_per_key = heads * ((lora + rope) + lora);  // scores over [c_kv | k_pe], values over c_kv
  } else {
    const double w = heads * c.mha_head_dim();
    per_token += 4 * d * w;
    attn_per_key = 2 * w;  // q·k and p·v
  }
  double layers_flops = 0;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    double ffn = 0;
    if (c.IsMoeLayer(l)) {
      ffn = d * c.n_routed_experts + 3.0 * d * c.moe_intermediate_size * c.num_experts_per_tok +
            3.0 * d * c.moe_intermediate_size * c.n_shared_experts;
    } else {
      ffn = 3.0 * d * c.intermediate_size;
    }
    layers_flops += 2 * (t * (per_token + ffn) + keys * attn_per_key);
  }
  return layers_flops + 2.0 * static_cast<double>(logit_rows) * d * c.vocab_size;
}

double VisionFlops(const Vl2Config& c, int64_t tiles) {
  const VisionConfig& v = c.vision_config;
  const double n = v.num_patches(), w = v.width, m = v.mlp_hidden(), p = v.patch_size;
  double tile = 2 * n * (3 * p * p) * w;  // patch embedding
  tile += v.layers * 2 *
          (n * w * 3 * w + n * w * w + 2 * n * w * m  // qkv, proj, fc1 + fc2
           + 2 * n * n * w);                          // q·k and p·v, all heads
  const ProjectorConfig& pc = c.projector_config;
  const int r = pc.downsample_ratio, side = (v.grid() + r - 1) / r;
  const double tokens = static_cast<double>(side) * side;
  const double hidden = static_cast<double>(pc.n_embed) * pc.mlp_ratio;
  for (int i = 0; i < pc.depth; ++i) {
    const double in = i == 0 ? static_cast<double>(pc.input_dim) * r * r : hidden;
    const double out = i == pc.depth - 1 ? pc.n_embed : hidden;
    tile += 2 * tokens * in * out;
  }
  return tile * static_cast<double>(tiles);
}

}  // namespace dsvl2::tools::bench
