// Portable matrix product: weight rows converted to f32 in small blocks, dot products in f32,
// parallel over output columns. The compiler vectorises the inner loops for the baseline ISA.
#include <algorithm>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"

namespace dsvl2::kernels::cpu {
namespace {

// Elements [start, start + k) of w (flat) converted to f32.
void ConvertRange(const TensorView& w, int64_t start, int64_t k, float* out) {
  switch (w.dtype) {
    case DType::kF32: {
      const float* p = static_cast<const float*>(w.data) + start;
      std::copy(p, p + k, out);
      return;
    }
    case DType::kBF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + start;
      for (int64_t t = 0; t < k; ++t) out[t] = Bf16ToF32(p[t]);
      return;
    }
    case DType::kF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + start;
      for (int64_t t = 0; t < k; ++t) out[t] = F16ToF32(p[t]);
      return;
    }
    default:
      for (int64_t t = 0; t < k; ++t) out[t] = w.At(start + t);
  }
}

}  // namespace

void MatMulColsGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                       int64_t j1, float* y) {
  const int64_t n = w.dim(0);
  thread_local std::vector<float> wrow;
  wrow.resize(static_cast<size_t>(k));
  for (int64_t j = j0; j < j1; ++j) {
    ConvertRange(w, j * k, k, wrow.data());
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * k;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t t = 0;
      for (; t + 8 <= k; t += 8)
        for (int u = 0; u < 8; ++u) acc[u] += xi[t + u] * wrow[static_cast<size_t>(t + u)];
      float s = 0;
      for (; t < k; ++t) s += xi[t] * wrow[static_cast<size_t>(t)];
      for (int u = 0; u < 8; ++u) s += acc[u];
      y[i * n + j] = s;
    }
  }
}

void MatMulGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y) {
  const int64_t n = w.dim(0);
  ThreadPool::Global().ParallelFor(n, 8, [&](int64_t begin, int64_t end) {
    MatMulColsGeneric(x, m, k, w, begin, end, y);
    if (bias)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = begin; j < end; ++j) y[i * n + j] += bias[j];
  });
}

void SwiGluColsGeneric(const float* x, int64_t m, int64_t k, const TensorView& gate,
                       const TensorView& up, int64_t j0, int64_t j1, float* out) {
  // Gate and up columns one at a time into small buffers, then silu(g) * u.
  const int64_t n = gate.dim(0);
  thread_local std::vector<float> g, u;
  g.resize(static_cast<size_t>(m * n));
  u.resize(static_cast<size_t>(m * n));
  MatMulColsGeneric(x, m, k, gate, j0, j1, g.data());
  MatMulColsGeneric(x, m, k, up, j0, j1, u.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = j0; j < j1; ++j)
      out[i * n + j] = SiluTimes(g[static_cast<size_t>(i * n + j)], u[static_cast<size_t>(i * n + j)]);
}

}  // namespace dsvl2::kernels::cpu

namespace dsvl2::kernels::cpu {

void MatMulTransposedGeneric(const float* x, int64_t m, const TensorView& w, float* y) {
  const int64_t n = w.dim(0), k = w.numel() / n;
  // Each weight row is converted once and applied to all m input rows; threads split columns.
  ThreadPool::Global().ParallelFor(k, 64, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    std::vector<float> wrow(static_cast<size_t>(width));
    for (int64_t i = 0; i < m; ++i) std::fill(y + i * k + c0, y + i * k + c1, 0.0f);
    for (int64_t r = 0; r < n; ++r) {
      ConvertRange(w, r * k + c0, width, wrow.data());
      const float* wr = wrow.data();
      for (int64_t i = 0; i < m; ++i) {
        const float a = x[i * n + r];
        float* yi = y + i * k + c0;
        for (int64_t c = 0; c < width; ++c) yi[c] += a * wr[c];
      }
    }
  });
}

}  // namespace dsvl2::kernels::cpu
