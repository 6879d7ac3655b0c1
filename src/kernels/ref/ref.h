// Scalar reference kernels (double accumulation): slow, simple, the oracle.
#pragma once

#include "kernels/kernels.h"

namespace dsvl2::kernels::ref {

void MatMul(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y);
void MatMulTransposed(const float* x, int64_t m, const TensorView& w, float* y);

}  // namespace dsvl2::kernels::ref
