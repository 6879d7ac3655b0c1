// Rotary position embedding tables as the official code builds them: inv_freq_i =
// 1 / theta^(2i/dim) in float32, angle = float32(pos) * inv_freq_i, cos/sin in float32.
#pragma once

#include <cstdint>
#include <vector>

namespace dsvl2 {

class Rope {
 public:
  Rope() = default;
  Rope(int dim, double theta);
  int dim() const { return dim_; }
  // cos/sin for `pos` (dim/2 values each).
  void At(int64_t pos, float* cos, float* sin) const;

 private:
  int dim_ = 0;
  std::vector<float> inv_freq_;
};

}  // namespace dsvl2
