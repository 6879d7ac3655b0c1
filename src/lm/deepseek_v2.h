// The DeepSeek-V2 decoder (official DeepseekV2ForCausalLM, inference path):
//   h = embeds; for each layer: h += Attn(RMSNorm(h)); h += FFN(RMSNorm(h))
//   logits = lm_head(RMSNorm(h))
// FFN is a dense SwiGLU for layers < first_k_dense_replace (and off the moe_layer_freq grid),
// the MoE layer otherwise. One Forward call serves a batch of sequences of different lengths.
#pragma once

#include <memory>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/config.h"
#include "io/weights.h"
#include "lm/attention.h"
#include "lm/ffn.h"
#include "lm/kv.h"

namespace dsvl2 {

// Optional per-row capture for tests and debugging.
struct ForwardTrace {
  int64_t row = -1;                          // batch row to capture
  std::vector<std::vector<float>> hidden;    // official output_hidden_states: L+1 vectors
  std::vector<std::vector<int>> experts;     // routed expert ids per MoE layer (sorted)
};

class DeepseekV2 {
 public:
  void Bind(const LanguageConfig& cfg, WeightBinder* binder);
  const LanguageConfig& config() const { return cfg_; }
  int num_layers() const { return cfg_.num_hidden_layers; }
  int64_t kv_row_width() const { return layers_.empty() ? 0 : layers_[0].attn->kv_row_width(); }

  // Token embeddings: out[n, hidden]. Ids outside the vocabulary are an error.
  Status Embed(const int32_t* ids, int64_t n, float* out) const;

  // embeds: [T, hidden], split among `seqs` (each appends its tokens to its KV cache).
  // logits: [logit_rows.size(), vocab] for the requested batch rows.
  Status Forward(const Tensor& embeds, const std::vector<SeqSlice>& seqs,
                 const std::vector<int64_t>& logit_rows, Tensor* logits,
                 ForwardTrace* trace = nullptr) const;

 private:
  struct Layer {
    std::vector<float> input_norm, post_norm;
    std::unique_ptr<Attention> attn;
    bool moe = false;
    SwiGlu dense;
    MoeLayer experts;
  };
  LanguageConfig cfg_;
  TensorView embed_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<Layer> layers_;
};

}  // namespace dsvl2
