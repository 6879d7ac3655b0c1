#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace dsvl2::kernels {

namespace {
// Row-wise ops: many rows (prefill, vision) are split over the thread pool, a few run here (so
// they are also safe inside a caller's parallel region).
template <typename F>
void ForRows(int64_t rows, F&& f) {
  if (rows < 64) {
    f(int64_t{0}, rows);
  } else {
    ThreadPool::Global().ParallelFor(rows, 16, f);
  }
}
}  // namespace

void RmsNorm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y) {
  ForRows(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double ss = 0;
      for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
      for (int64_t i = 0; i < n; ++i) yr[i] = w[i] * (xr[i] * inv);
    }
  });
}

void LayerNorm(const float* x, const float* w, const float* b, int64_t rows, int64_t n, float eps,
               float* y) {
  ForRows(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      // Sums in double over 8 interleaved partial sums (one chain per lane: vectorizes, where
      // one serial double chain had made LayerNorm ~4% of vision time).
      double part[8] = {};
      int64_t i = 0;
      for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) part[l] += xr[i + l];
      double mean = 0;
      for (; i < n; ++i) mean += xr[i];
      for (double p : part) mean += p;
      mean /= n;
      for (double& p : part) p = 0;
      i = 0;
      for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) part[l] += (xr[i + l] - mean) * (xr[i + l] - mean);
      double var = 0;
      for (; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      for (double p : part) var += p;
      var /= n;
      const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
      const float m = static_cast<float>(mean);
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) * inv * w[i] + b[i];
    }
  });
}

void GeluTanh(float* x, int64_t n) {
  // Split over the thread pool (SigLIP: 729 x 4304 per tile and block).
  const auto gelu = Active().gelu_tanh;
  ThreadPool::Global().ParallelFor(n, 16384, [x, gelu](int64_t b, int64_t e) { gelu(x + b, e - b); });
}

void MatMulGeluTanh(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y) {
  const KernelTable& t = Active();
  if (t.matmul_gelu_tanh && t.matmul_gelu_tanh(x, m, k, w, bias, y)) return;
  MatMul(x, m, k, w, bias, y);
  GeluTanh(y, m * w.dim(0));
}

void GeluErf(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) { Active().silu_mul(gate, up, n, out); }

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void Axpy(float a, const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void Add(const float* x, int64_t n, float* y) {
  auto add = [x, y](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] += x[i];
  };
  if (n < (int64_t{1} << 16))
    add(0, n);
  else
    ThreadPool::Global().ParallelFor(n, int64_t{1} << 14, add);
}

void RopeNeox(float* v, int dim, const float* cos, const float* sin) {
  const int half = dim / 2;
  for (int i = 0; i < half; ++i) {
    const float a = v[i], b = v[i + half];
    v[i] = a * cos[i] - b * sin[i];
    v[i + half] = b * cos[i] + a * sin[i];
  }
}

void RopeInterleaved(float* v, int dim, const float* cos, const float* sin) {
  for (int i = 0; i < dim / 2; ++i) {
    const float a = v[2 * i], b = v[2 * i + 1];
    v[2 * i] = a * cos[i] - b * sin[i];
    v[2 * i + 1] = b * cos[i] + a * sin[i];
  }
}

}  // namespace dsvl2::kernels
