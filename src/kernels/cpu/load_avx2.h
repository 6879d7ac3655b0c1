// AVX2 loads of weight elements as f32, shared by the AVX2 matrix products (included only by
// translation units compiled with AVX2): 8 consecutive elements widened from bf16/f16 (or f32),
// and one element.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "base/half.h"
#include "base/tensor.h"

namespace dsvl2::kernels::cpu {

template <DType T>
inline __m256 Load8(const void* base, int64_t idx) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + idx);
  } else if constexpr (T == DType::kBF16) {
    __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm256_cvtph_ps(h);
  }
}

template <DType T>
inline float LoadScalar(const void* base, int64_t idx) {
  if constexpr (T == DType::kF32)
    return static_cast<const float*>(base)[idx];
  else if constexpr (T == DType::kBF16)
    return Bf16ToF32(static_cast<const uint16_t*>(base)[idx]);
  else
    return F16ToF32(static_cast<const uint16_t*>(base)[idx]);
}

}  // namespace dsvl2::kernels::cpu
