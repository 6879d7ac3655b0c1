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

  VisionConfig cfg_;
  TensorView patch_w_;  // [W, 3*p*p] (conv weight [W,3,p,p] flattened)
  std::vector<float> patch_b_, pos_embed_, norm_w_, norm_b_;
  std::vector<Block> blocks_;
};

}  // namespace dsvl2
