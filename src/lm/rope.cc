#include "lm/rope.h"

#include <cmath>

namespace dsvl2 {

Rope::Rope(int dim, double theta) : dim_(dim) {
  inv_freq_.resize(static_cast<size_t>(dim / 2));
  for (int i = 0; i < dim / 2; ++i) {
    // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), in float32.
    const float expo = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv_freq_[static_cast<size_t>(i)] =
        1.0f / static_cast<float>(std::pow(static_cast<double>(static_cast<float>(theta)), static_cast<double>(expo)));
  }
}

void Rope::At(int64_t pos, float* cos, float* sin) const {
  const float t = static_cast<float>(pos);
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const float a = t * inv_freq_[i];
    cos[i] = static_cast<float>(std::cos(static_cast<double>(a)));
    sin[i] = static_cast<float>(std::sin(static_cast<double>(a)));
  }
}

}  // namespace dsvl2
