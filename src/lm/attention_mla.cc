// Multi-head Latent Attention (DeepSeek-V2), in the absorbed form of the official eager code:
//   q = x Wq  (or q_b(RMSNorm(q_a(x))) with q_lora_rank)      -> [heads, nope | rope]
//   [c_kv | k_pe] = x Wkv_a ; c_kv = RMSNorm(c_kv)             (cached: kv_lora_rank + rope floats)
//   RoPE on q_pe and k_pe only (interleaved pairs; see docs/DESIGN.md)
//   q_abs_h = q_nope_h W_UK_h   (W_UK_h: rows [h*(nope+v), +nope) of kv_b_proj)
//   score   = (q_abs_h · c_kv + q_pe_h · k_pe) / sqrt(nope + rope)
//   o_h     = W_UV_h (softmax · c_kv)   (W_UV_h: rows [h*(nope+v)+nope, +v) of kv_b_proj)
//   out     = o_proj(concat_h o_h)
#include <cmath>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "lm/attention.h"
#include "lm/rope.h"

namespace dsvl2 {
namespace {

class MlaAttention : public Attention {
 public:
  explicit MlaAttention(const LanguageConfig& cfg)
      : cfg_(cfg),
        heads_(cfg.num_attention_heads),
        nope_(cfg.qk_nope_head_dim),
        rope_dim_(cfg.qk_rope_head_dim),
        vdim_(cfg.v_head_dim),
        lora_(cfg.kv_lora_rank),
        rope_(cfg.qk_rope_head_dim, cfg.rope_theta) {}

  void Bind(int layer, WeightBinder* b) override {
    const std::string pre = "language.model.layers." + std::to_string(layer) + ".self_attn.";
    const int64_t d = cfg_.hidden_size, qh = nope_ + rope_dim_;
    if (cfg_.q_lora_rank > 0) {
      q_a_ = b->Matrix(pre + "q_a_proj.weight", {cfg_.q_lora_rank, d});
      q_a_norm_ = b->Vector(pre + "q_a_layernorm.weight", {cfg_.q_lora_rank});
      q_b_ = b->Matrix(pre + "q_b_proj.weight", {heads_ * qh, cfg_.q_lora_rank});
    } else {
      q_ = b->Matrix(pre + "q_proj.weight", {heads_ * qh, d});
    }
    kv_a_ = b->Matrix(pre + "kv_a_proj_with_mqa.weight", {lora_ + rope_dim_, d});
    kv_a_norm_ = b->Vector(pre + "kv_a_layernorm.weight", {lora_});
    kv_b_ = b->Matrix(pre + "kv_b_proj.weight", {heads_ * (nope_ + vdim_), lora_});
    o_ = b->Matrix(pre + "o_proj.weight", {d, heads_ * vdim_});
  }

  void VisitWeights(const std::function<void(const TensorView&)>& fn) const override {
    for (const TensorView* w : {&q_, &q_a_, &q_b_, &kv_a_, &kv_b_, &o_})
      if (w->valid()) fn(*w);
    if (!q_a_norm_.empty()) fn(VectorView(q_a_norm_));
    fn(VectorView(kv_a_norm_));
  }

  int64_t kv_row_width() const override { return lora_ + rope_dim_; }

  void Forward(const Tensor& h, const std::vector<SeqSlice>& seqs, int layer,
               Tensor* out) const override {
    const int64_t t = h.dim(0), d = cfg_.hidden_size, qh = nope_ + rope_dim_;
    const float eps = static_cast<float>(cfg_.rms_norm_eps);
    // q: [T, heads, nope + rope]
    Tensor q({t, heads_ * qh});
    if (cfg_.q_lora_rank > 0) {
      Tensor qa({t, cfg_.q_lora_rank});
      kernels::MatMul(h.data(), t, d, q_a_, nullptr, qa.data());
      kernels::RmsNorm(qa.data(), q_a_norm_.data(), t, cfg_.q_lora_rank, eps, qa.data());
      kernels::MatMul(qa.data(), t, cfg_.q_lora_rank, q_b_, nullptr, q.data());
    } else {
      kernels::MatMul(h.data(), t, d, q_, nullptr, q.data());
    }
    // kv: [T, lora + rope] -> cache rows
    const int64_t row_w = lora_ + rope_dim_;
    Tensor kv({t, row_w});
    kernels::MatMul(h.data(), t, d, kv_a_, nullptr, kv.data());
    std::vector<float> cos(static_cast<size_t>(rope_dim_ / 2)), sin(cos.size());
    for (const SeqSlice& s : seqs) {
      const int64_t len = s.kv->length();
      for (int64_t i = 0; i < s.num_tokens; ++i) {
        const int64_t row = s.start_row + i;
        rope_.At(len + i, cos.data(), sin.data());
        float* r = kv.row(row);
        kernels::RmsNorm(r, kv_a_norm_.data(), 1, lora_, eps, r);
        kernels::RopeInterleaved(r + lora_, rope_dim_, cos.data(), sin.data());
        for (int hh = 0; hh < heads_; ++hh)
          kernels::RopeInterleaved(q.row(row) + hh * qh + nope_, rope_dim_, cos.data(), sin.data());
        std::copy(r, r + row_w, s.kv->Row(layer, len + i));
      }
    }
    // Absorb W_UK into the query: qcat[T, heads, lora + rope] = [q_nope_h W_UK_h | q_pe_h].
    Tensor qcat({t, heads_ * row_w});
    Tensor tmp_in({t, std::max<int64_t>(nope_, lora_)}),
        tmp_out({t, std::max<int64_t>(lora_, vdim_)});
    for (int hh = 0; hh < heads_; ++hh) {
      const TensorView w_uk = kv_b_.Rows(static_cast<int64_t>(hh) * (nope_ + vdim_), nope_);
      for (int64_t r = 0; r < t; ++r)
        std::copy(q.row(r) + hh * qh, q.row(r) + hh * qh + nope_, tmp_in.data() + r * nope_);
      kernels::MatMulTransposed(tmp_in.data(), t, w_uk, tmp_out.data());
      for (int64_t r = 0; r < t; ++r) {
        float* dst = qcat.row(r) + hh * row_w;
        std::copy(tmp_out.data() + r * lora_, tmp_out.data() + (r + 1) * lora_, dst);
        std::copy(q.row(r) + hh * qh + nope_, q.row(r) + (hh + 1) * qh, dst + lora_);
      }
    }
    // Attention over the latent cache: olat[T, heads, lora].
    Tensor olat({t, heads_ * lora_});
    const float scale = 1.0f / std::sqrt(static_cast<float>(qh));
    AttendSlices(
        seqs, layer, heads_, 2,
        [&](const SeqSlice& s, int64_t len, const KvSpans& spans) {
          // Prefill: all heads share the latent keys, so the rows (token i, head h) of qcat form
          // one [num_tokens * heads, lora + rope] query matrix; rows of token i see keys 0..len+i.
          kernels::AttendMany(qcat.row(s.start_row), row_w, s.num_tokens * heads_,
                              static_cast<int>(row_w), spans.data(), static_cast<int>(spans.size()),
                              row_w, 0, 0, static_cast<int>(lora_), len + s.num_tokens,
                              /*causal_base=*/len, /*group=*/heads_, scale, olat.row(s.start_row),
                              lora_);
        },
        [&](int64_t row, int64_t hh, int64_t n_keys, const KvSpans& spans) {
          kernels::AttendOne(qcat.row(row) + hh * row_w, static_cast<int>(row_w), spans.data(),
                             static_cast<int>(spans.size()), row_w, 0, 0, static_cast<int>(lora_),
                             n_keys, scale, olat.row(row) + hh * lora_);
        });
    // Expand through W_UV: attn[T, heads, v].
    Tensor attn({t, heads_ * vdim_});
    for (int hh = 0; hh < heads_; ++hh) {
      const TensorView w_uv = kv_b_.Rows(static_cast<int64_t>(hh) * (nope_ + vdim_) + nope_, vdim_);
      for (int64_t r = 0; r < t; ++r)
        std::copy(olat.row(r) + hh * lora_, olat.row(r) + (hh + 1) * lora_,
                  tmp_in.data() + r * lora_);
      kernels::MatMul(tmp_in.data(), t, lora_, w_uv, nullptr, tmp_out.data());
      for (int64_t r = 0; r < t; ++r)
        std::copy(tmp_out.data() + r * vdim_, tmp_out.data() + (r + 1) * vdim_,
                  attn.row(r) + hh * vdim_);
    }
    out->Resize({t, d});
    kernels::MatMul(attn.data(), t, heads_ * vdim_, o_, nullptr, out->data());
  }

 private:
  LanguageConfig cfg_;
  int64_t heads_, nope_, rope_dim_, vdim_, lora_;
  Rope rope_;
  TensorView q_, q_a_, q_b_, kv_a_, kv_b_, o_;
  std::vector<float> q_a_norm_, kv_a_norm_;
};

}  // namespace

std::unique_ptr<Attention> MakeMhaAttention(const LanguageConfig& cfg);

std::unique_ptr<Attention> MakeAttention(const LanguageConfig& cfg) {
  if (cfg.use_mla) return std::make_unique<MlaAttention>(cfg);
  return MakeMhaAttention(cfg);
}

}  // namespace dsvl2
