// The VL adaptor `downsample_mlp_gelu` (official MlpProjector): vision features [B, g*g, C] are
// zero-padded at the bottom/right to a multiple of the downsample ratio r, unfolded r×r with
// feature index c*r*r + ky*r + kx (F.unfold's channel-major order), then Linear -> GELU(erf) ->
// ... -> Linear into the language model's width.
#pragma once

#include <vector>

#include "base/tensor.h"
#include "io/config.h"
#include "io/weights.h"

namespace dsvl2 {

class Projector {
 public:
  // grid: side of the vision token grid (27 for SigLIP-384/14).
  void Bind(const ProjectorConfig& cfg, int grid, WeightBinder* binder);

  // Side of the output token grid: ceil(grid / r) (14).
  int out_side() const { return out_side_; }

  // features: [B, grid*grid, C] -> out: [B, out_side^2, n_embed]
  void Forward(const Tensor& features, Tensor* out) const;

 private:
  struct Linear {
    TensorView w;
    std::vector<float> b;
    int64_t in = 0, out = 0;
  };
  ProjectorConfig cfg_;
  int grid_ = 0, out_side_ = 0;
  std::vector<Linear> layers_;  // GELU between consecutive layers
};

}  // namespace dsvl2
