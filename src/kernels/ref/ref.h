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

}  // namespace dsvl2::kernels::ref
