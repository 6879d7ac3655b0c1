// Scalar reference for matrix products with block-quantized weights (q8_0, q4_0): the oracle the
// fast kernels are tested against, and the definition of their numerics (docs/FORMATS.md):
//   each input row is quantized per 32-block: a_b = max|x_b| / 127, q = nearest_even(x * (127/max|x_b|))
//   y[i, j] = sum_b  d_b(w_j) * a_b(x_i) * sum_{t in b} qw_t * qx_t      (+ bias[j])
// The block dot is exact in integers; here the sum over blocks is in double.
#include <cmath>
#include <cstring>
#include <vector>

#include "base/half.h"
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
  a->m = m;
  a->k = k;
  a->wtype = wtype;
  a->layout = 0;
  a->q.resize(static_cast<size_t>(m * k));
  a->scale.resize(static_cast<size_t>(m * (k / kQuantBlock)));
  for (int64_t i = 0; i < m; ++i)
    QuantizeActivationRow(x + i * k, k, a->q.data() + i * k, a->scale.data() + i * (k / kQuantBlock));
}

void MatMulQCols(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  const int64_t m = a.m, k = a.k, n = w.numel() / k, nb = k / kQuantBlock;
  DSVL2_CHECK(IsQuantized(w.dtype) && w.dtype == a.wtype && a.layout == 0 && w.shape.back() == k);
  const size_t row_bytes = QuantRowBytes(w.dtype, k);
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(j) * row_bytes;
    const uint8_t* q = row + 2 * nb;
    for (int64_t i = 0; i < m; ++i) {
      double acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t h;
        std::memcpy(&h, row + 2 * b, 2);
        int32_t dot = 0;
        for (int64_t t = b * 32; t < (b + 1) * 32; ++t) {
          const int64_t jj = t % 32;
          const int wq = w.dtype == DType::kQ8_0
                             ? static_cast<int8_t>(q[t])
                             : (jj < 16 ? (q[b * 16 + (jj & 15)] & 15) : (q[b * 16 + (jj & 15)] >> 4)) - 8;
          dot += wq * a.q[static_cast<size_t>(i * k + t)];
        }
        acc += static_cast<double>(F16ToF32(h)) * a.scale[static_cast<size_t>(i * nb + b)] * dot;
      }
      y[i * n + j] = static_cast<float>(acc);
    }
  }
}

void MatMulQ(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  const int64_t n = w.numel() / k, nb = k / kQuantBlock;
  std::vector<int8_t> xq(static_cast<size_t>(m * k));
  std::vector<float> xs(static_cast<size_t>(m * nb));
  for (int64_t i = 0; i < m; ++i) QuantizeActivationRow(x + i * k, k, xq.data() + i * k, xs.data() + i * nb);
  const size_t row_bytes = QuantRowBytes(w.dtype, k);
  std::vector<int> wq(static_cast<size_t>(k));
  std::vector<float> wd(static_cast<size_t>(nb));
  for (int64_t j = 0; j < n; ++j) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(j) * row_bytes;
    for (int64_t b = 0; b < nb; ++b) {
      uint16_t h;
      std::memcpy(&h, row + 2 * b, 2);
      wd[static_cast<size_t>(b)] = F16ToF32(h);
    }
    const uint8_t* q = row + 2 * nb;
    for (int64_t t = 0; t < k; ++t) {
      if (w.dtype == DType::kQ8_0) {
        wq[static_cast<size_t>(t)] = static_cast<int8_t>(q[t]);
      } else {
        const int64_t b = t / 32, jj = t % 32;
        const uint8_t byte = q[b * 16 + (jj & 15)];
        wq[static_cast<size_t>(t)] = (jj < 16 ? (byte & 15) : (byte >> 4)) - 8;
      }
    }
    for (int64_t i = 0; i < m; ++i) {
      double acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t dot = 0;
        for (int64_t t = b * 32; t < (b + 1) * 32; ++t)
          dot += wq[static_cast<size_t>(t)] * xq[static_cast<size_t>(i * k + t)];
        acc += static_cast<double>(wd[static_cast<size_t>(b)]) * xs[static_cast<size_t>(i * nb + b)] * dot;
      }
      y[i * n + j] = static_cast<float>(acc) + (bias ? bias[j] : 0.0f);
    }
  }
}

}  // namespace dsvl2::kernels::ref
