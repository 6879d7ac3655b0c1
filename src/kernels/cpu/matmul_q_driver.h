// The loops shared by the x86 block-quantized matrix products (matmul_q_avx2.cc,
// matmul_q_avx512.cc): input rows in chunks of 64 (their quantized copy stays in L2), weight
// panels of 16 rows one after another, and the ISA's row tiles for one panel:
//   Kernel::RowTiles<T>(acts, r0, r1, panel, nb, p, j0, j1, n, bias, y)
// computes rows [r0, r1) x columns [j0, j1) (inside panel p) of y = x · w^T (+ bias).
// Included by each ISA's translation unit, so everything here uses that unit's instruction set.
#pragma once

#include <algorithm>
#include <cstdint>

#include "base/logging.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/cpu/quant_acts_x86.h"
#include "kernels/kernels.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int64_t kQuantRowChunk = 64;

// Columns [j0, j1) of y for all input rows of a, on the calling thread.
template <typename Kernel, DType T>
void QuantPanelCols(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, const float* bias, float* y) {
  const int64_t k = a.k, n = w.numel() / k, nb = k / kQuantBlock;
  j1 = std::min(j1, n);
  const size_t panel_bytes = QuantPanelBytes(T, k);
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = 0; r0 < a.m; r0 += kQuantRowChunk) {
    const int64_t r1 = std::min(a.m, r0 + kQuantRowChunk);
    for (int64_t p = j0 / kQuantPanel; p * kQuantPanel < j1; ++p) {
      const int64_t c0 = std::max(j0, p * kQuantPanel), c1 = std::min(j1, (p + 1) * kQuantPanel);
      Kernel::template RowTiles<T>(a, r0, r1, data + static_cast<size_t>(p) * panel_bytes, nb, p, c0, c1, n, bias, y);
    }
  }
}

template <typename Kernel>
void QuantPanelCols(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, const float* bias, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && w.dtype == a.wtype && w.shape.back() == a.k);
  DSVL2_CHECK(a.layout == QuantActs::Layout::kBlockMajor);
  if (w.dtype == DType::kQ4_0) return QuantPanelCols<Kernel, DType::kQ4_0>(a, w, j0, j1, bias, y);
  QuantPanelCols<Kernel, DType::kQ8_0>(a, w, j0, j1, bias, y);
}

// y[m, n] = x · w^T + bias: x quantized into a thread_local QuantActs, then panels split over the
// thread pool.
template <typename Kernel>
void QuantMatMul(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  thread_local QuantActs act;
  QuantActs* ap = &act;
  ap->Reset(m, k, w.dtype, QuantActs::Layout::kBlockMajor);
  const int64_t nb = k / kQuantBlock;
  if (m >= 8) {
    ThreadPool::Global().ParallelFor(nb, std::max<int64_t>(1, 32 / m),
                                     [&](int64_t b0, int64_t b1) { QuantizeActBlocksX86(x, b0, b1, ap); });
  } else {
    QuantizeActBlocksX86(x, 0, nb, ap);
  }
  const int64_t n = w.numel() / k, panels = QuantPaddedRows(n) / kQuantPanel;
  const int64_t grain = std::max<int64_t>(1, 32768 / static_cast<int64_t>(QuantPanelBytes(w.dtype, k)));
  ThreadPool::Global().ParallelFor(panels, grain, [&](int64_t p0, int64_t p1) {
    QuantPanelCols<Kernel>(*ap, w, p0 * kQuantPanel, std::min(n, p1 * kQuantPanel), bias, y);
  });
}

}  // namespace
}  // namespace dsvl2::kernels::cpu
