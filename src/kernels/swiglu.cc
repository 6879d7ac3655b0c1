// SwiGLU first half (silu(x · gate^T) * (x · up^T)) over the thread pool.
#include <algorithm>
#include <vector>

#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace dsvl2::kernels {

void SwiGluWith(const KernelTable& t, const float* x, int64_t m, int64_t k, const TensorView& gate,
                const TensorView& up, float* out) {
  const int64_t n = gate.dim(0);
  const bool quantized = IsQuantized(gate.dtype) || IsQuantized(up.dtype);
  if (IsQuantized(gate.dtype) && gate.dtype == up.dtype && m <= kSwiGluQFusedMaxRows) {
    // Few rows, block-quantized: inputs quantized once, then one parallel region over blocks of
    // columns, each computing gate, up and silu(gate) * up for its columns.
    thread_local QuantActs xq_buf;
    QuantActs& xq = xq_buf;  // (named through a reference: the pool's threads read it)
    t.quantize_acts(x, m, k, gate.dtype, &xq);
    constexpr int64_t kCols = 16;
    ThreadPool::Global().ParallelFor((n + kCols - 1) / kCols, 1, [&](int64_t b0, int64_t b1) {
      SwiGluQCols(t, xq, gate, up, b0 * kCols, std::min(n, b1 * kCols), out);
    });
    return;
  }
  if (quantized || (m >= GemmMinRows(t, gate.dtype) && t.isa != Isa::kRef)) {
    if (!quantized && t.swiglu_many && t.swiglu_many(x, m, k, gate, up, out)) return;
    // Many rows: two packed GEMMs (compute bound) and one element-wise pass.
    thread_local std::vector<float> u;
    u.resize(static_cast<size_t>(m * n));
    // Block-quantized weights go through matmul_q (activations quantized once per call).
    (IsQuantized(gate.dtype) ? t.matmul_q : t.matmul)(x, m, k, gate, nullptr, out);
    (IsQuantized(up.dtype) ? t.matmul_q : t.matmul)(x, m, k, up, nullptr, u.data());
    const float* up_out = u.data();  // (the pool's threads must not name this thread's u)
    ThreadPool::Global().ParallelFor(m, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)),
                                     [&](int64_t r0, int64_t r1) {
                                       SiluMul(out + r0 * n, up_out + r0 * n, (r1 - r0) * n, out + r0 * n);
                                     });
    return;
  }
  // Few rows: one pass over x per block of columns, gate and up streamed together.
  const int64_t blocks = (n + 3) / 4;
  ThreadPool::Global().ParallelFor(blocks, std::max<int64_t>(1, 2048 / std::max<int64_t>(k, 1)),
                                   [&](int64_t b0, int64_t b1) {
                                     t.swiglu_cols(x, m, k, gate, up, b0 * 4, std::min(n, b1 * 4), out);
                                   });
}

void SwiGluQCols(const KernelTable& t, const QuantActs& a, const TensorView& gate,
                 const TensorView& up, int64_t j0, int64_t j1, float* out) {
  const int64_t n = gate.dim(0);
  thread_local std::vector<float> u;
  if (u.size() < static_cast<size_t>(a.m * n)) u.resize(static_cast<size_t>(a.m * n));
  t.matmul_q_cols(a, gate, j0, j1, out);
  t.matmul_q_cols(a, up, j0, j1, u.data());
  for (int64_t i = 0; i < a.m; ++i)
    SiluMul(out + i * n + j0, u.data() + i * n + j0, j1 - j0, out + i * n + j0);
}

}  // namespace dsvl2::kernels
