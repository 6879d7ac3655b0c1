// Plain multi-head attention as transformers 4.38 LlamaAttention (eager): q/k/v/o projections
// without bias, RoPE in the rotate_half (NeoX) layout on the whole head, scale 1/sqrt(head_dim).
#include <cmath>

#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "lm/attention.h"
#include "lm/rope.h"

namespace dsvl2 {
namespace {

class MhaAttention : public Attention {
 public:
  explicit MhaAttention(const LanguageConfig& cfg)
      : cfg_(cfg),
        heads_(cfg.num_attention_heads),
        hd_(cfg.mha_head_dim()),
        rope_(cfg.mha_head_dim(), cfg.rope_theta) {}

  void Bind(int layer, WeightBinder* b) override {
    const std::string pre = "language.model.layers." + std::to_string(layer) + ".self_attn.";
    const int64_t d = cfg_.hidden_size, hd = static_cast<int64_t>(heads_) * hd_;
    q_ = b->Matrix(pre + "q_proj.weight", {hd, d});
    k_ = b->Matrix(pre + "k_proj.weight", {hd, d});
    v_ = b->Matrix(pre + "v_proj.weight", {hd, d});
    o_ = b->Matrix(pre + "o_proj.weight", {d, hd});
  }

  void VisitWeights(const std::function<void(const TensorView&)>& fn) const override {
    for (const TensorView* w : {&q_, &k_, &v_, &o_}) fn(*w);
  }

  int64_t kv_row_width() const override { return 2LL * heads_ * hd_; }

  void Forward(const Tensor& h, const std::vector<SeqSlice>& seqs, int layer,
               Tensor* out) const override {
    const int64_t t = h.dim(0), d = cfg_.hidden_size, w = static_cast<int64_t>(heads_) * hd_;
    Tensor q({t, w}), k({t, w}), v({t, w});
    kernels::MatMul(h.data(), t, d, q_, nullptr, q.data());
    kernels::MatMul(h.data(), t, d, k_, nullptr, k.data());
    kernels::MatMul(h.data(), t, d, v_, nullptr, v.data());
    std::vector<float> cos(static_cast<size_t>(hd_ / 2)), sin(cos.size());
    for (const SeqSlice& s : seqs) {
      const int64_t len = s.kv->length();
      for (int64_t i = 0; i < s.num_tokens; ++i) {
        const int64_t row = s.start_row + i;
        rope_.At(len + i, cos.data(), sin.data());
        for (int hh = 0; hh < heads_; ++hh) {
          kernels::RopeNeox(q.row(row) + hh * hd_, hd_, cos.data(), sin.data());
          kernels::RopeNeox(k.row(row) + hh * hd_, hd_, cos.data(), sin.data());
        }
        float* dst = s.kv->Row(layer, len + i);
        std::copy(k.row(row), k.row(row) + w, dst);
        std::copy(v.row(row), v.row(row) + w, dst + w);
      }
    }
    Tensor attn({t, w});
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd_));
    // Prefill slices: per head, all new rows at once as matrix products; row i sees keys
    // 0..len+i. Decode rows: single-query attention per (row, head), all in one region.
    AttendSlices(
        seqs, layer, heads_, 4,
        [&](const SeqSlice& s, int64_t len, const KvSpans& spans) {
          for (int hh = 0; hh < heads_; ++hh)
            kernels::AttendMany(q.row(s.start_row) + hh * hd_, w, s.num_tokens, hd_, spans.data(),
                                static_cast<int>(spans.size()), 2 * w, hh * hd_, w + hh * hd_, hd_,
                                len + s.num_tokens, /*causal_base=*/len, /*group=*/1, scale,
                                attn.row(s.start_row) + hh * hd_, w);
        },
        [&](int64_t row, int64_t hh, int64_t n_keys, const KvSpans& spans) {
          kernels::AttendOne(q.row(row) + hh * hd_, hd_, spans.data(), static_cast<int>(spans.size()),
                             2 * w, hh * hd_, w + hh * hd_, hd_, n_keys, scale,
                             attn.row(row) + hh * hd_);
        });
    out->Resize({t, d});
    kernels::MatMul(attn.data(), t, w, o_, nullptr, out->data());
  }

 private:
  LanguageConfig cfg_;
  int heads_, hd_;
  Rope rope_;
  TensorView q_, k_, v_, o_;
};

}  // namespace

std::unique_ptr<Attention> MakeMhaAttention(const LanguageConfig& cfg) {
  return std::make_unique<MhaAttention>(cfg);
}

}  // namespace dsvl2
