#include "vision/projector.h"

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace dsvl2 {

void Projector::Bind(const ProjectorConfig& cfg, int grid, WeightBinder* b) {
  cfg_ = cfg;
  grid_ = grid;
  const int r = cfg.downsample_ratio;
  out_side_ = (grid + r - 1) / r;
  const int64_t in0 = static_cast<int64_t>(cfg.input_dim) * r * r;
  const int64_t hidden = static_cast<int64_t>(cfg.n_embed) * cfg.mlp_ratio;
  // Official module list: Linear(in0, hidden), then (GELU, Linear(hidden, hidden)) × (depth-2),
  // then GELU, Linear(hidden, n_embed); Linear i sits at index 2*i of projector.layers.
  layers_.clear();
  for (int i = 0; i < cfg.depth; ++i) {
    Linear l;
    l.in = i == 0 ? in0 : hidden;
    l.out = i == cfg.depth - 1 ? cfg.n_embed : hidden;
    const std::string pre = "projector.layers." + std::to_string(2 * i) + ".";
    l.w = b->Matrix(pre + "weight", {l.out, l.in});
    l.b = b->Vector(pre + "bias", {l.out});
    layers_.push_back(std::move(l));
  }
}

void Projector::Forward(const Tensor& features, Tensor* out) const {
  const int64_t batch = features.dim(0), c = features.dim(2);
  const int r = cfg_.downsample_ratio, side = out_side_, g = grid_;
  const int64_t tokens = static_cast<int64_t>(side) * side, in0 = c * r * r;
  // x: [B, g*g, C] -> pad to [B, side*r, side*r, C] -> unfold -> [B, side*side, C*r*r]
  Tensor x({batch * tokens, in0});
  for (int64_t b = 0; b < batch; ++b) {
    for (int by = 0; by < side; ++by) {
      for (int bx = 0; bx < side; ++bx) {
        float* dst = x.row(b * tokens + by * side + bx);
        for (int ky = 0; ky < r; ++ky) {
          for (int kx = 0; kx < r; ++kx) {
            const int y = by * r + ky, xx = bx * r + kx;
            const bool inside = y < g && xx < g;
            const float* src = inside ? features.data() + ((b * g * g) + y * g + xx) * c : nullptr;
            for (int64_t ch = 0; ch < c; ++ch) dst[ch * r * r + ky * r + kx] = inside ? src[ch] : 0.0f;
          }
        }
      }
    }
  }
  Tensor y;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Linear& l = layers_[i];
    if (i > 0) kernels::GeluErf(x.data(), x.numel());
    y.Resize({batch * tokens, l.out});
    kernels::MatMul(x.data(), batch * tokens, l.in, l.w, l.b.data(), y.data());
    std::swap(x, y);
  }
  x.Reshape({batch, tokens, layers_.back().out});
  *out = std::move(x);
}

}  // namespace dsvl2
