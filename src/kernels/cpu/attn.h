// SIMD pieces of AttendMany (kernels/attention.cc), compiled per ISA; the scalar loop in
// attention.cc is their reference.
#pragma once

#include <cstdint>

namespace dsvl2::kernels::cpu {

// s[0, len) = softmax(scale * s[0, len)) in place, s[len, n) = 0. Requires len >= 1.
void SoftmaxRowAvx512(float* s, int64_t len, int64_t n, float scale);

}  // namespace dsvl2::kernels::cpu
