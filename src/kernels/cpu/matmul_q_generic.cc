// Portable matrix product with block-quantized weights (q8_0 / q4_0): the numerics of
// ref::MatMulQ (input rows quantized to int8 per 32-block, integer block dots, float scales),
// written so the compiler can vectorise the block dots for the baseline ISA. Output columns are
// split over the thread pool; each weight block is unpacked once per tile of 4 input rows.
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

struct ActScratch {
  std::vector<int8_t> q;
  std::vector<float> scale;
};

// Rows [r0, r1) of x quantized in natural order, on the calling thread.
void QuantizeRowRange(const float* x, int64_t r0, int64_t r1, int64_t k, int8_t* q, float* scales) {
  const int64_t nb = k / kQuantBlock;
    for (int64_t i = r0; i < r1; ++i) {
      for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + i * k + b * kQuantBlock;
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float id = amax > 0 ? 127.0f / amax : 0.0f;
        scales[i * nb + b] = amax / 127.0f;
        int8_t* qb = q + i * k + b * kQuantBlock;
        for (int j = 0; j < 32; ++j) qb[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
      }
    }
}

void QuantizeRowsHere(const float* x, int64_t m, int64_t k, int8_t* q, float* scales) {
  QuantizeRowRange(x, 0, m, k, q, scales);
}

void QuantizeRows(const float* x, int64_t m, int64_t k, int8_t* q, float* scales) {
  ThreadPool::Global().ParallelFor(m, std::max<int64_t>(1, 16384 / k), [&](int64_t r0, int64_t r1) {
    QuantizeRowRange(x, r0, r1, k, q, scales);
  });
}

// Unpacks block b of a weight row into 32 signed values.
inline void UnpackBlock(DType t, const uint8_t* quants, int64_t b, int8_t* out) {
  if (t == DType::kQ8_0) {
    std::memcpy(out, quants + b * 32, 32);
  } else {
    const uint8_t* p = quants + b * 16;
    for (int j = 0; j < 16; ++j) {
      out[j] = static_cast<int8_t>((p[j] & 15) - 8);
      out[j + 16] = static_cast<int8_t>((p[j] >> 4) - 8);
    }
  }
}

inline int32_t Dot32(const int8_t* a, const int8_t* b) {
  int32_t s = 0;
  for (int j = 0; j < 32; ++j) s += static_cast<int32_t>(a[j]) * b[j];
  return s;
}

}  // namespace

namespace {

// Columns [j0, j1) of y (row stride n) from rows quantized in natural order.
void ColsNatural(const int8_t* xq, const float* xs, int64_t m, int64_t k, const TensorView& w,
                 const float* bias, int64_t j0, int64_t j1, float* y) {
  const int64_t n = w.numel() / k, nb = k / kQuantBlock;
  const size_t row_bytes = QuantRowBytes(w.dtype, k);
  const DType t = w.dtype;
  constexpr int kRows = 4;
  alignas(32) int8_t wb[32];
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(j) * row_bytes;
    const uint8_t* quants = row + 2 * nb;
    const float bj = bias ? bias[j] : 0.0f;
    for (int64_t i0 = 0; i0 < m; i0 += kRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kRows, m - i0));
      float acc[kRows] = {0, 0, 0, 0};
      for (int64_t b = 0; b < nb; ++b) {
        uint16_t h;
        std::memcpy(&h, row + 2 * b, 2);
        const float d = F16ToF32(h);
        UnpackBlock(t, quants, b, wb);
        for (int r = 0; r < rows; ++r) {
          const int64_t i = i0 + r;
          acc[r] += d * xs[i * nb + b] * static_cast<float>(Dot32(wb, xq + i * k + b * 32));
        }
      }
      for (int r = 0; r < rows; ++r) y[(i0 + r) * n + j] = acc[r] + bj;
    }
  }
}

}  // namespace

void MatMulQGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  const int64_t n = w.numel() / k, nb = k / kQuantBlock;
  thread_local ActScratch act;
  if (act.q.size() < static_cast<size_t>(m * k)) act.q.resize(static_cast<size_t>(m * k));
  if (act.scale.size() < static_cast<size_t>(m * nb)) act.scale.resize(static_cast<size_t>(m * nb));
  const int8_t* xq = act.q.data();
  const float* xs = act.scale.data();
  QuantizeRows(x, m, k, act.q.data(), act.scale.data());
  const size_t row_bytes = QuantRowBytes(w.dtype, k);
  ThreadPool::Global().ParallelFor(n, std::max<int64_t>(1, 65536 / static_cast<int64_t>(row_bytes)),
                                   [&](int64_t j0, int64_t j1) {
                                     ColsNatural(xq, xs, m, k, w, bias, j0, j1, y);
                                   });
}

void QuantizeActsGeneric(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a) {
  DSVL2_CHECK(k % kQuantBlock == 0);
  a->m = m;
  a->k = k;
  a->wtype = wtype;
  a->layout = 0;
  a->q.resize(static_cast<size_t>(m * k));
  a->scale.resize(static_cast<size_t>(m * (k / kQuantBlock)));
  QuantizeRowsHere(x, m, k, a->q.data(), a->scale.data());
}

void MatMulQColsGeneric(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && w.dtype == a.wtype && a.layout == 0 && w.shape.back() == a.k);
  ColsNatural(a.q.data(), a.scale.data(), a.m, a.k, w, nullptr, j0, j1, y);
}

}  // namespace dsvl2::kernels::cpu
