// Scalar reference kernels (double accumulation): slow, simple, the oracle.
#pragma once

#include "kernels/kernels.h"

namespace dsvl2::kernels::ref {

void MatMul(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y);
void MatMulCols(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0, int64_t j1,
                float* y);
void SwiGluCols(const float* x, int64_t m, int64_t k, const TensorView& gate, const TensorView& up,
                int64_t j0, int64_t j1, float* out);
void MatMulTransposed(const float* x, int64_t m, const TensorView& w, float* y);
// w block-quantized (q8_0 / q4_0); defines the quantized numerics (see matmul_q_ref.cc).
void MatMulQ(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y);
// quantize_acts / matmul_q_cols (QuantActs in the row-major layout).
void QuantizeActs(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a);
void MatMulQCols(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y);
// One activation row quantized as the quantized matmuls do: q[k] int8, scales[k/32].
void QuantizeActivationRow(const float* x, int64_t k, int8_t* q, float* scales);
// Single-query attention, one key at a time (AttendOneFn).
void AttendOne(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
               int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale, float* out);

// out[i] = silu(gate[i]) * up[i]; x[i] = gelu_tanh(x[i]) (the silu_mul / gelu_tanh entries).
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
void GeluTanh(float* x, int64_t n);
constexpr float kGeluTanhC2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)

}  // namespace dsvl2::kernels::ref
