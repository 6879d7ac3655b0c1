#include "lm/deepseek_v2.h"

#include <algorithm>

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace dsvl2 {

void DeepseekV2::Bind(const LanguageConfig& cfg, WeightBinder* b) {
  cfg_ = cfg;
  const int64_t d = cfg.hidden_size, v = cfg.vocab_size;
  embed_ = b->Matrix("language.model.embed_tokens.weight", {v, d});
  layers_.clear();
  layers_.resize(static_cast<size_t>(cfg.num_hidden_layers));
  for (int l = 0; l < cfg.num_hidden_layers; ++l) {
    Layer& layer = layers_[static_cast<size_t>(l)];
    const std::string pre = "language.model.layers." + std::to_string(l) + ".";
    layer.input_norm = b->Vector(pre + "input_layernorm.weight", {d});
    layer.post_norm = b->Vector(pre + "post_attention_layernorm.weight", {d});
    layer.attn = MakeAttention(cfg);
    layer.attn->Bind(l, b);
    layer.moe = cfg.IsMoeLayer(l);
    if (layer.moe) {
      layer.experts.Bind(cfg, l, b);
    } else {
      layer.dense.Bind(pre + "mlp.", d, cfg.intermediate_size, b);
    }
  }
  final_norm_ = b->Vector("language.model.norm.weight", {d});
  lm_head_ = b->Matrix("language.lm_head.weight", {v, d});
}

int64_t LmWeightBytes::routed_total() const {
  int64_t n = 0;
  for (const auto& layer : routed)
    for (int64_t b : layer) n += b;
  return n;
}

int64_t LmWeightBytes::StepBytes(int64_t embed_rows,
                                 const std::vector<std::vector<int>>& used_experts) const {
  int64_t n = NonRouted() + embed_rows * embed_row;
  for (size_t l = 0; l < used_experts.size() && l < routed.size(); ++l)
    for (int e : used_experts[l]) n += routed[l][static_cast<size_t>(e)];
  return n;
}

LmWeightBytes DeepseekV2::WeightBytes() const {
  LmWeightBytes w;
  auto into = [&w](int64_t* part) {
    return [&w, part](const TensorView& v) {
      const int64_t n = static_cast<int64_t>(v.nbytes());
      *part += n;
      w.by_dtype[DTypeName(v.dtype)] += n;
    };
  };
  into(&w.embed)(embed_);
  w.embed_row = embed_.valid() ? static_cast<int64_t>(embed_.Row(0).nbytes()) : 0;
  auto norms = into(&w.norms);
  for (const Layer& layer : layers_) {
    norms(VectorView(layer.input_norm));
    norms(VectorView(layer.post_norm));
    layer.attn->VisitWeights(into(&w.attention));
    if (!layer.moe) {
      layer.dense.VisitWeights(into(&w.dense_mlp));
      continue;
    }
    layer.experts.VisitRouter(into(&w.router));
    layer.experts.VisitShared(into(&w.shared_experts));
    std::vector<int64_t> per_expert(static_cast<size_t>(layer.experts.num_experts()), 0);
    for (int e = 0; e < layer.experts.num_experts(); ++e)
      layer.experts.VisitExpert(e, into(&per_expert[static_cast<size_t>(e)]));
    w.routed.push_back(std::move(per_expert));
  }
  norms(VectorView(final_norm_));
  into(&w.lm_head)(lm_head_);
  return w;
}

Status DeepseekV2::Embed(const int32_t* ids, int64_t n, float* out) const {
  const int64_t d = cfg_.hidden_size;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= cfg_.vocab_size)
      return Status::Error(StrFormat("token id %d at position %lld is outside the vocabulary (%d)",
                                     ids[i], static_cast<long long>(i), cfg_.vocab_size));
    const TensorView row = embed_.Row(ids[i]);
    for (int64_t j = 0; j < d; ++j) out[i * d + j] = row.At(j);
  }
  return Status::Ok();
}

Status DeepseekV2::Forward(const Tensor& embeds, const std::vector<SeqSlice>& seqs,
                           const std::vector<int64_t>& logit_rows, Tensor* logits,
                           ForwardTrace* trace) const {
  const int64_t t = embeds.dim(0), d = cfg_.hidden_size;
  if (embeds.rank() != 2 || embeds.dim(1) != d)
    return Status::Error("Forward: embeds must be [T, " + std::to_string(d) + "], got " +
                         ShapeToString(embeds.shape()));
  int64_t covered = 0;
  for (const SeqSlice& s : seqs) {
    if (!s.kv || s.start_row != covered || s.num_tokens <= 0)
      return Status::Error("Forward: sequence slices must cover the batch rows in order");
    covered += s.num_tokens;
  }
  if (covered != t) return Status::Error("Forward: sequence slices do not cover the batch");
  for (int64_t r : logit_rows)
    if (r < 0 || r >= t) return Status::Error("Forward: logit row out of range");
  for (const SeqSlice& s : seqs) RETURN_IF_ERROR(s.kv->Reserve(s.num_tokens));

  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  Tensor x = embeds, h({t, d}), y;
  auto capture = [&](const float* row) {
    if (trace) trace->hidden.emplace_back(row, row + d);
  };
  const bool capture_row = trace && trace->row >= 0 && trace->row < t;
  if (trace) {
    trace->hidden.clear();
    trace->experts.clear();
    trace->used_experts.clear();
  }
  for (int l = 0; l < num_layers(); ++l) {
    const Layer& layer = layers_[static_cast<size_t>(l)];
    if (capture_row) capture(x.row(trace->row));
    kernels::RmsNorm(x.data(), layer.input_norm.data(), t, d, eps, h.data());
    layer.attn->Forward(h, seqs, l, &y);
    kernels::Add(y.data(), t * d, x.data());
    kernels::RmsNorm(x.data(), layer.post_norm.data(), t, d, eps, h.data());
    if (layer.moe) {
      std::vector<Routing> routing;
      layer.experts.Forward(h, &y, trace ? &routing : nullptr);
      if (trace) {
        std::vector<int> used;
        for (const Routing& r : routing) used.insert(used.end(), r.experts.begin(), r.experts.end());
        std::sort(used.begin(), used.end());
        used.erase(std::unique(used.begin(), used.end()), used.end());
        trace->used_experts.push_back(std::move(used));
      }
      if (capture_row) {
        std::vector<int> ids = routing[static_cast<size_t>(trace->row)].experts;
        std::sort(ids.begin(), ids.end());
        trace->experts.push_back(std::move(ids));
      }
    } else {
      y.Resize({t, d});
      layer.dense.Forward(h.data(), t, y.data());
    }
    kernels::Add(y.data(), t * d, x.data());
  }
  for (const SeqSlice& s : seqs) s.kv->Advance(s.num_tokens);

  // Final norm and lm_head only for the rows whose logits are wanted (and the traced row).
  const int64_t r = static_cast<int64_t>(logit_rows.size());
  Tensor sel({r, d});
  for (int64_t i = 0; i < r; ++i) std::copy(x.row(logit_rows[i]), x.row(logit_rows[i]) + d, sel.row(i));
  kernels::RmsNorm(sel.data(), final_norm_.data(), r, d, eps, sel.data());
  if (capture_row) {
    std::vector<float> last(static_cast<size_t>(d));
    kernels::RmsNorm(x.row(trace->row), final_norm_.data(), 1, d, eps, last.data());
    trace->hidden.push_back(std::move(last));
  }
  logits->Resize({r, cfg_.vocab_size});
  kernels::MatMul(sel.data(), r, d, lm_head_, nullptr, logits->data());
  return Status::Ok();
}

}  // namespace dsvl2
