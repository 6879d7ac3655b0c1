// Activation quantization for the x86 block-quantized kernels, into the block-major QuantActs
// layout (kernels.h): per 32-block of a row, q = nearest_even(x * 127 / max|x_b|) as int8, the
// scale max|x_b| / 127 and the zero-point term ZeroPoint(wtype) * sum(q). AVX2 + F16C
// intrinsics; included by each ISA's translation unit, which compiles its own copy with its own
// flags (hence the anonymous namespace).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "base/logging.h"
#include "base/quant.h"
#include "kernels/kernels.h"

namespace dsvl2::kernels::cpu {
namespace {

// One 32-block: x[32] -> q[32], *scale, *zero.
inline void QuantizeActBlockX86(const float* x, int32_t zero_point, int8_t* q, float* scale, int32_t* zero) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
  __m256 v[4];
  __m256 mx = _mm256_setzero_ps();
  for (int t = 0; t < 4; ++t) {
    v[t] = _mm256_loadu_ps(x + 8 * t);
    mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v[t]));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const float id = amax > 0 ? 127.0f / amax : 0.0f;
  *scale = amax / 127.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i r[4];
  for (int t = 0; t < 4; ++t) r[t] = _mm256_cvtps_epi32(_mm256_mul_ps(v[t], vid));
  // 32 x s32 -> 32 x s8 in order (packs work per 128-bit lane: fixed with a permute).
  const __m256i p01 = _mm256_packs_epi32(r[0], r[1]), p23 = _mm256_packs_epi32(r[2], r[3]);
  __m256i p = _mm256_packs_epi16(p01, p23);
  p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), p);
  // sum of the 32 values: |q| <= 127, so 1*q pairs fit in s16.
  const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, p), ones16);
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
  *zero = zero_point * _mm_cvtsi128_si32(s4);
}

// Blocks [b0, b1) of every row of x[m, k] into a (already sized by QuantActs::Reset,
// block-major). A range of blocks is one contiguous stretch of q, scale and zero, so threads
// given disjoint block ranges write disjoint cache lines (row ranges would share the lines of
// scale and zero, which hold 16 rows each: 2-thread 1280x1280 products at m = 16 ran barely
// faster than on 1 thread).
inline void QuantizeActBlocksX86(const float* x, int64_t b0, int64_t b1, QuantActs* a) {
  const int64_t m = a->m, k = a->k;
  const int32_t zp = QuantActs::ZeroPoint(a->wtype);
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t i = 0; i < m; ++i) {
      const int64_t r = b * m + i;
      QuantizeActBlockX86(x + i * k + b * kQuantBlock, zp, a->q.data() + r * kQuantBlock, a->scale.data() + r,
                          a->zero.data() + r);
    }
}

}  // namespace
}  // namespace dsvl2::kernels::cpu
