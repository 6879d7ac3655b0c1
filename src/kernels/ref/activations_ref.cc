// Scalar element-wise activations with std::exp: the reference for the vector ones (cpu/
// activations_*.cc) and the ref / generic tables' entries.
#include <cmath>

#include "kernels/ref/ref.h"

namespace dsvl2::kernels::ref {

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void GeluTanh(float* x, int64_t n) {
  // 0.5 v (1 + tanh(u)) == v / (1 + exp(-2u)): one exp instead of tanh (several times cheaper,
  // same value to float rounding).
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = v / (1.0f + std::exp(-kGeluTanhC2 * (v + 0.044715f * v * v * v)));
  }
}

}  // namespace dsvl2::kernels::ref
