// Self-attention of a DeepSeek-V2 decoder layer over a batch of sequences (SeqSlice), reading and
// appending to each sequence's KV cache. Two implementations: plain multi-head attention
// (LlamaAttention, Tiny) and Multi-head Latent Attention (Small/Base), chosen by `use_mla`.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/tensor.h"
#include "io/config.h"
#include "io/weights.h"
#include "lm/kv.h"

namespace dsvl2 {

class Attention {
 public:
  virtual ~Attention() = default;
  virtual void Bind(int layer, WeightBinder* binder) = 0;
  // Calls fn on every bound weight (norm vectors as float32 views).
  virtual void VisitWeights(const std::function<void(const TensorView&)>& fn) const = 0;
  // Floats per token per layer in the KV cache.
  virtual int64_t kv_row_width() const = 0;
  // h: [T, hidden] (after input_layernorm) -> out: [T, hidden]. Writes the cache rows of the
  // new tokens (positions kv->length() + i) before attending, causally.
  virtual void Forward(const Tensor& h, const std::vector<SeqSlice>& seqs, int layer,
                       Tensor* out) const = 0;
};

std::unique_ptr<Attention> MakeAttention(const LanguageConfig& cfg);

}  // namespace dsvl2
