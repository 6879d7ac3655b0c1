// Horizontal sums for the AVX-512 dot-product kernels (cpu/matmul_bf16_rows_avx512.cc,
// cpu/matmul_bf16_rows_f32_avx512.cc); included only by translation units compiled with AVX-512.
#pragma once

#include <immintrin.h>

namespace dsvl2::kernels::cpu {

// The horizontal sums of 4 vectors, as one (3 shuffle-and-add levels instead of 4 reductions).
// (The maskz forms with all lanes set compile to the plain instructions; the plain intrinsics
// _mm512_undefined_* operand trips GCC 12's -Wuninitialized, GCC PR 105593.)
inline __m128 Sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  constexpr __mmask16 kAll = 0xffff;
  // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
  const __m512 ab = _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, a, b), _mm512_maskz_unpackhi_ps(kAll, a, b));
  const __m512 cd = _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, c, d), _mm512_maskz_unpackhi_ps(kAll, c, d));
  // Per 128-bit lane: [a, b, c, d] (partial sums).
  const __m512d abd = _mm512_castps_pd(ab), cdd = _mm512_castps_pd(cd);
  const __m512 s = _mm512_add_ps(_mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xff, abd, cdd)),
                                 _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xff, abd, cdd)));
  const __m256 h = _mm256_add_ps(_mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xf, _mm512_castps_pd(s), 0)),
                                 _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xf, _mm512_castps_pd(s), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// out[i] = the horizontal sum of v[i], i < n (4 at a time).
template <int N>
__attribute__((always_inline)) inline void SumAll(const __m512* v, float* out) {
  int i = 0;
#pragma GCC unroll 6
  for (; i + 4 <= N; i += 4) _mm_storeu_ps(out + i, Sum4(v[i], v[i + 1], v[i + 2], v[i + 3]));
  if constexpr (N % 4 != 0) {
    const __m512 z = _mm512_setzero_ps();
    alignas(16) float rest[4];
    _mm_store_ps(rest, Sum4(v[i], i + 1 < N ? v[i + 1] : z, i + 2 < N ? v[i + 2] : z, z));
    for (int r = 0; i + r < N; ++r) out[i + r] = rest[r];
  }
}

}  // namespace dsvl2::kernels::cpu
