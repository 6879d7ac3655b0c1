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
#include "kernels/kernels.h"
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

// The query loop both attentions share, over each sequence's cache spans for `layer` (covering
// its new rows). Slices of at least kernels::kAttendManyMinRows rows (prefill) go to
// prefill(slice, len, spans), one after another; the rows of the other slices (decode) of every
// sequence run in one parallel region over all (row, head) pairs: decode(row, head, n_keys,
// spans), where row is the batch row and n_keys = len + i + 1 for the slice's i-th row.
using KvSpans = std::vector<kernels::KvSpan>;
void AttendSlices(
    const std::vector<SeqSlice>& seqs, int layer, int heads, int64_t grain,
    const std::function<void(const SeqSlice& s, int64_t len, const KvSpans& spans)>& prefill,
    const std::function<void(int64_t row, int64_t head, int64_t n_keys, const KvSpans& spans)>& decode);

}  // namespace dsvl2
