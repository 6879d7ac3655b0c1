// SigLIP vision tower (timm-style pre-norm ViT, as built by the official siglip_vit.py):
// patch embed (conv = linear over 14x14 patches, bias) + learned position embedding, `layers`
// blocks of LN -> MHA -> residual, LN -> MLP(gelu tanh) -> residual, then the final LayerNorm.
// The attention-pool head is not run (ignore_head), so its weights are not bound.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/config.h"
#include "io/weights.h"

namespace dsvl2 {

class SiglipVisionTower {
 public:
  // Binds vision.* weights; problems are recorded in `binder`.
  void Bind(const VisionConfig& cfg, WeightBinder* binder);

  // pixels: [B, 3, S, S] normalised to [-1, 1].  out: [B, N, W] with N = (S/patch)^2.
  // The views go through the tower kViewsPerPass at a time (each view's result depends on that
  // view alone): one view's block activations (its MLP's [N, 4304] f32 among them, 12.5 MB) stay
  // in the last-level cache, where all ten views' had gone through memory. Zen 5, 2 threads,
  // `dsvl2 bench --vision-tiles 5`: high 0.546 -> 0.601 tiles/s, medium 1.140 -> 1.195
  // (docs/benchmarks/2026-12-07-zen5); the weights are read once per pass (~2% of a pass).
  static constexpr int64_t kViewsPerPass = 1;
  void Forward(const float* pixels, int64_t batch, Tensor* out) const;

 private:
  struct Block {
    std::vector<float> norm1_w, norm1_b, norm2_w, norm2_b;
    TensorView qkv_w, proj_w, fc1_w, fc2_w;
    std::vector<float> qkv_b, proj_b, fc1_b, fc2_b;
  };
  // Activation buffers shared by the blocks of one Forward call.
  struct Scratch {
    Tensor h, qkv, attn, f;
  };
  void BlockForward(const Block& blk, int64_t batch, Tensor* x, Scratch* scratch) const;
  // Forward of `batch` views into out (batch * N * W floats).
  void ForwardViews(const float* pixels, int64_t batch, Scratch* scratch, float* out) const;

  VisionConfig cfg_;
  TensorView patch_w_;  // [W, 3*p*p] (conv weight [W,3,p,p] flattened)
  std::vector<float> patch_b_, pos_embed_, norm_w_, norm_b_;
  std::vector<Block> blocks_;
};

}  // namespace dsvl2
