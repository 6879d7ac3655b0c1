// Scalar reference matrix product: the oracle every fast kernel is tested against.
#include "kernels/ref/ref.h"

#include "base/half.h"
#include <cmath>

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

namespace dsvl2::kernels::ref {
namespace {
double Dot(const float* x, const TensorView& w, int64_t j, int64_t k) {
  double acc = 0.0;
  for (int64_t t = 0; t < k; ++t) acc += static_cast<double>(x[t]) * w.At(j * k + t);
  return acc;
}
}  // namespace

void MatMulCols(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0, int64_t j1,
                float* y) {
  const int64_t n = w.dim(0);
  DSVL2_CHECK(w.numel() == n * k && 0 <= j0 && j0 <= j1 && j1 <= n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = j0; j < j1; ++j) y[i * n + j] = static_cast<float>(Dot(x + i * k, w, j, k));
}

void SwiGluCols(const float* x, int64_t m, int64_t k, const TensorView& gate, const TensorView& up,
                int64_t j0, int64_t j1, float* out) {
  const int64_t n = gate.dim(0);
  DSVL2_CHECK(gate.numel() == n * k && up.numel() == n * k && 0 <= j0 && j0 <= j1 && j1 <= n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = j0; j < j1; ++j) {
      const float g = static_cast<float>(Dot(x + i * k, gate, j, k));
      const float u = static_cast<float>(Dot(x + i * k, up, j, k));
      out[i * n + j] = g / (1.0f + std::exp(-g)) * u;
    }
}

}  // namespace dsvl2::kernels::ref
