// Portable matrix product with block-quantized weights (q8_0 / q4_0): the numerics of
// ref::MatMulQ (input rows quantized to int8 per 32-block, integer block dots, float scales),
// written so the compiler can vectorise the block dots for the baseline ISA. Weights are read one
// 16-row panel at a time (base/quant.h); each panel block is unpacked once per tile of 8 input
// rows. Panels are split over the thread pool.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/half.h"
#include "base/logging.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"

namespace dsvl2::kernels::cpu {
namespace {

// Unpacks block b of a panel: scales d[16] and values v[16][32] (signed, natural order).
void UnpackPanelBlock(DType t, const uint8_t* blk, float* d, int8_t (*v)[32]) {
  for (int r = 0; r < kQuantPanel; ++r) {
    uint16_t h;
    std::memcpy(&h, blk + 2 * r, 2);
    d[r] = F16ToF32(h);
  }
  const uint8_t* q = blk + 2 * kQuantPanel;
  if (t == DType::kQ8_0) {
    for (int c = 0; c < 8; ++c)
      for (int r = 0; r < kQuantPanel; ++r)
        for (int e = 0; e < 4; ++e) v[r][4 * c + e] = static_cast<int8_t>(q[64 * c + 4 * r + e]);
  } else {
    for (int c = 0; c < 4; ++c)
      for (int r = 0; r < kQuantPanel; ++r)
        for (int e = 0; e < 4; ++e) {
          const uint8_t byte = q[64 * c + 4 * r + e];
          v[r][4 * c + e] = static_cast<int8_t>((byte & 15) - 8);
          v[r][16 + 4 * c + e] = static_cast<int8_t>((byte >> 4) - 8);
        }
  }
}

inline int32_t Dot32(const int8_t* a, const int8_t* b) {
  int32_t s = 0;
  for (int j = 0; j < 32; ++j) s += static_cast<int32_t>(a[j]) * b[j];
  return s;
}

// Columns [j0, j1) of y (row stride n) from activations in the row-major QuantActs layout.
void PanelCols(const int8_t* xq, const float* xs, int64_t m, int64_t k, const TensorView& w, const float* bias,
               int64_t j0, int64_t j1, float* y) {
  const int64_t n = w.numel() / k, nb = k / kQuantBlock;
  const DType t = w.dtype;
  const size_t block_bytes = kQuantPanel * QuantBlockBytes(t);
  constexpr int kRows = 8;
  alignas(32) int8_t v[kQuantPanel][32];
  float d[kQuantPanel];
  for (int64_t p = j0 / kQuantPanel; p * kQuantPanel < j1; ++p) {
    const uint8_t* panel = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(p) * QuantPanelBytes(t, k);
    const int r0 = static_cast<int>(std::max(j0, p * kQuantPanel) - p * kQuantPanel);
    const int r1 = static_cast<int>(std::min({j1, n, (p + 1) * kQuantPanel}) - p * kQuantPanel);
    for (int64_t i0 = 0; i0 < m; i0 += kRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kRows, m - i0));
      float acc[kRows][kQuantPanel] = {};
      for (int64_t b = 0; b < nb; ++b) {
        UnpackPanelBlock(t, panel + static_cast<size_t>(b) * block_bytes, d, v);
        for (int ii = 0; ii < rows; ++ii) {
          const int64_t i = i0 + ii;
          const int8_t* xb = xq + i * k + b * kQuantBlock;
          const float s = xs[i * nb + b];
          for (int r = r0; r < r1; ++r) acc[ii][r] += d[r] * s * static_cast<float>(Dot32(v[r], xb));
        }
      }
      for (int ii = 0; ii < rows; ++ii)
        for (int r = r0; r < r1; ++r) {
          const int64_t j = p * kQuantPanel + r;
          y[(i0 + ii) * n + j] = acc[ii][r] + (bias ? bias[j] : 0.0f);
        }
    }
  }
}

}  // namespace

void QuantizeActsGeneric(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a) {
  DSVL2_CHECK(k % kQuantBlock == 0);
  const int64_t nb = k / kQuantBlock;
  a->Reset(m, k, wtype, QuantActs::Layout::kRowMajor);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t b = 0; b < nb; ++b) {
      const float* xb = x + i * k + b * kQuantBlock;
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const float id = amax > 0 ? 127.0f / amax : 0.0f;
      a->scale[static_cast<size_t>(i * nb + b)] = amax / 127.0f;
      int8_t* qb = a->q.data() + i * k + b * kQuantBlock;
      int32_t s = 0;
      for (int j = 0; j < 32; ++j) {
        qb[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
        s += qb[j];
      }
      a->zero[static_cast<size_t>(i * nb + b)] = QuantActs::ZeroPoint(wtype) * s;
    }
}

void MatMulQGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  const int64_t n = w.numel() / k;
  thread_local QuantActs act;
  QuantActs* ap = &act;
  QuantizeActsGeneric(x, m, k, w.dtype, ap);
  const int64_t panels = QuantPaddedRows(n) / kQuantPanel;
  const int64_t grain = std::max<int64_t>(1, 65536 / static_cast<int64_t>(QuantPanelBytes(w.dtype, k)));
  ThreadPool::Global().ParallelFor(panels, grain, [&](int64_t p0, int64_t p1) {
    PanelCols(ap->q.data(), ap->scale.data(), m, k, w, bias, p0 * kQuantPanel, std::min(n, p1 * kQuantPanel), y);
  });
}

void MatMulQColsGeneric(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && w.dtype == a.wtype && w.shape.back() == a.k);
  DSVL2_CHECK(a.layout == QuantActs::Layout::kRowMajor);
  PanelCols(a.q.data(), a.scale.data(), a.m, a.k, w, nullptr, j0, j1, y);
}

}  // namespace dsvl2::kernels::cpu
