// The DeepSeek-V2 decoder (official DeepseekV2ForCausalLM, inference path):
//   h = embeds; for each layer: h += Attn(RMSNorm(h)); h += FFN(RMSNorm(h))
//   logits = lm_head(RMSNorm(h))
// FFN is a dense SwiGLU for layers < first_k_dense_replace (and off the moe_layer_freq grid),
// the MoE layer otherwise. One Forward call serves a batch of sequences of different lengths.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/config.h"
#include "io/weights.h"
#include "lm/attention.h"
#include "lm/ffn.h"
#include "lm/kv.h"

namespace dsvl2 {

// Optional capture for tests, debugging and benchmarks.
struct ForwardTrace {
  int64_t row = -1;                          // batch row to capture (-1: none)
  std::vector<std::vector<float>> hidden;    // official output_hidden_states of `row`: L+1 vectors
  std::vector<std::vector<int>> experts;     // routed expert ids of `row` per MoE layer (sorted)
  // Per MoE layer: every routed expert that any row of the batch went to (sorted, unique).
  std::vector<std::vector<int>> used_experts;
};

// Bytes of the language model's weights as bound (TensorView::nbytes(), so every storage format
// counts as stored; norm vectors held as float32 count 4 bytes per value), by part.
struct LmWeightBytes {
  int64_t embed = 0;           // the whole embedding table
  int64_t embed_row = 0;       // one row of it
  int64_t attention = 0;       // every layer's attention (projections and their norms)
  int64_t dense_mlp = 0;       // dense SwiGLU layers
  int64_t shared_experts = 0;  // shared experts of the MoE layers
  int64_t router = 0;          // MoE gate (+ e_score_correction_bias)
  int64_t norms = 0;           // input / post-attention / final RMSNorm weights
  int64_t lm_head = 0;
  std::vector<std::vector<int64_t>> routed;  // [moe layer][expert]
  std::map<std::string, int64_t> by_dtype;   // every bound tensor, by DTypeName

  int64_t routed_total() const;
  int64_t total() const { return embed + NonRouted() + routed_total(); }
  // What every forward step reads whatever the routing: all but the embedding table and the
  // routed experts.
  int64_t NonRouted() const {
    return attention + dense_mlp + shared_experts + router + norms + lm_head;
  }
  // Bytes one forward step reads: NonRouted() + `embed_rows` embedding rows + the routed experts
  // in `used_experts` (per MoE layer, as ForwardTrace::used_experts).
  int64_t StepBytes(int64_t embed_rows, const std::vector<std::vector<int>>& used_experts) const;
};

class DeepseekV2 {
 public:
  void Bind(const LanguageConfig& cfg, WeightBinder* binder);
  const LanguageConfig& config() const { return cfg_; }
  int num_layers() const { return cfg_.num_hidden_layers; }
  int64_t kv_row_width() const { return layers_.empty() ? 0 : layers_[0].attn->kv_row_width(); }

  LmWeightBytes WeightBytes() const;

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
