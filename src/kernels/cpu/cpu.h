// CPU kernels, one translation unit per instruction set (compiled with its own -m flags).
#pragma once

#include "kernels/kernels.h"

namespace dsvl2::kernels::cpu {

// Portable blocked kernel (any x86-64 / ARM); used when no SIMD table applies.
void MatMulGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y);
void MatMulTransposedGeneric(const float* x, int64_t m, const TensorView& w, float* y);
void MatMulAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                float* y);
void MatMulAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y);
// Block-quantized weights (q8_0 / q4_0): the numerics of ref::MatMulQ.
void MatMulQGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y);
void MatMulQAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                 float* y);
void MatMulQAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y);

}  // namespace dsvl2::kernels::cpu
