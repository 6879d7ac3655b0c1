// Scalar reference for matrix products with block-quantized weights (q8_0, q4_0): the oracle the
// fast kernels are tested against, and the definition of their numerics (docs/FORMATS.md):
//   each input row is quantized per 32-block: a_b = max|x_b| / 127, q = nearest_even(x * (127/max|x_b|))
//   y[i, j] = sum_b  d_b(w_j) * a_b(x_i) * sum_{t in b} v(w_j)_t * q_t      (+ bias[j])
// The block dot is exact in integers; here the sum over blocks is in double. Weights are read
// through the layout-neutral accessors of base/quant.h.
#include <cmath>
#include <vector>

#include "base/logging.h"
#include "base/quant.h"
#include "kernels/ref/ref.h"

namespace dsvl2::kernels::ref {

void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* scales) {
  for (int64_t b = 0; b < k / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0;
    for (int j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    scales[b] = amax / 127.0f;
    for (int j = 0; j < kQuantBlock; ++j)
      q[b * kQuantBlock + j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
  }
}

void QuantizeActs(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a) {
  DSVL2_CHECK(k % kQuantBlock == 0);
  const int64_t nb = k / kQuantBlock;
  a->Reset(m, k, wtype, QuantActs::Layout::kRowMajor);
  for (int64_t i = 0; i < m; ++i) {
    QuantizeActivationRow(x + i * k, k, a->q.data() + i * k, a->scale.data() + i * nb);
    for (int64_t b = 0; b < nb; ++b) {
      int32_t s = 0;
      for (int64_t t = 0; t < kQuantBlock; ++t) s += a->q[static_cast<size_t>(i * k + b * kQuantBlock + t)];
      a->zero[static_cast<size_t>(i * nb + b)] = QuantActs::ZeroPoint(wtype) * s;
    }
  }
}

namespace {
// y[i, j] for columns [j0, j1) from quantized activations xq [m, k] and scales xs [m, k/32].
void Cols(const int8_t* xq, const float* xs, int64_t m, int64_t k, const TensorView& w, const float* bias,
          int64_t j0, int64_t j1, float* y) {
  const int64_t n = w.numel() / k, nb = k / kQuantBlock;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  std::vector<int> wq(static_cast<size_t>(k));
  std::vector<double> wd(static_cast<size_t>(nb));
  for (int64_t j = j0; j < j1; ++j) {
    for (int64_t b = 0; b < nb; ++b) wd[static_cast<size_t>(b)] = QuantScale(w.dtype, data, k, j, b);
    for (int64_t t = 0; t < k; ++t) wq[static_cast<size_t>(t)] = QuantValue(w.dtype, data, k, j, t);
    for (int64_t i = 0; i < m; ++i) {
      double acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t dot = 0;
        for (int64_t t = b * kQuantBlock; t < (b + 1) * kQuantBlock; ++t)
          dot += wq[static_cast<size_t>(t)] * xq[static_cast<size_t>(i * k + t)];
        acc += wd[static_cast<size_t>(b)] * xs[static_cast<size_t>(i * nb + b)] * dot;
      }
      y[i * n + j] = static_cast<float>(acc) + (bias ? bias[j] : 0.0f);
    }
  }
}
}  // namespace

void MatMulQCols(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && w.dtype == a.wtype && w.shape.back() == a.k);
  DSVL2_CHECK(a.layout == QuantActs::Layout::kRowMajor);
  Cols(a.q.data(), a.scale.data(), a.m, a.k, w, nullptr, j0, j1, y);
}

void MatMulQ(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  const int64_t nb = k / kQuantBlock;
  std::vector<int8_t> xq(static_cast<size_t>(m * k));
  std::vector<float> xs(static_cast<size_t>(m * nb));
  for (int64_t i = 0; i < m; ++i) QuantizeActivationRow(x + i * k, k, xq.data() + i * k, xs.data() + i * nb);
  Cols(xq.data(), xs.data(), m, k, w, bias, 0, w.numel() / k, y);
}

}  // namespace dsvl2::kernels::ref
