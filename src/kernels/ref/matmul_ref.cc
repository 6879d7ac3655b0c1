// Scalar reference matrix product: the oracle every fast kernel is tested against.
#include "kernels/ref/ref.h"

#include "base/half.h"
#include "base/logging.h"

namespace dsvl2::kernels::ref {

void MatMul(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
            float* y) {
  const int64_t n = w.dim(0);
  DSVL2_CHECK(w.numel() == n * k);
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    const TensorView wr = w.Row(j);
    for (int64_t t = 0; t < k; ++t) row[static_cast<size_t>(t)] = wr.At(t);
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * k;
      double acc = 0.0;
      for (int64_t t = 0; t < k; ++t) acc += static_cast<double>(xi[t]) * row[static_cast<size_t>(t)];
      y[i * n + j] = static_cast<float>(acc) + (bias ? bias[j] : 0.0f);
    }
  }
}

}  // namespace dsvl2::kernels::ref

namespace dsvl2::kernels::ref {

void MatMulTransposed(const float* x, int64_t m, const TensorView& w, float* y) {
  const int64_t n = w.dim(0), k = w.numel() / n;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < k; ++c) {
      double acc = 0.0;
      for (int64_t r = 0; r < n; ++r) acc += static_cast<double>(x[i * n + r]) * w.At(r * k + c);
      y[i * k + c] = static_cast<float>(acc);
    }
  }
}

}  // namespace dsvl2::kernels::ref
