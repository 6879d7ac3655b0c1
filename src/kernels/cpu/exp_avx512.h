// exp for 16 floats (AVX-512): Cody-Waite range reduction (x = n ln2 + r) and a degree-6
// polynomial for e^r, scaled by 2^n; ~2 ulp. Shared by the attention softmax (x <= 0) and the
// activations (SiLU, GELU); the vector SiLU-times-up and GELU built on it are here too. Included only by
// translation units compiled with AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/ref/ref.h"

namespace dsvl2::kernels::cpu {

// Inputs are clamped to [-87, 88]: below, a tiny normal value (never a denormal) instead of 0;
// above, e^88 (~1.7e38) instead of infinity, so that x / (1 + exp(-x)) stays finite.
inline __m512 Exp(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);
}

// silu(g) * u = g / (1 + exp(-g)) * u, the expression of ref::SiluMul (exact IEEE division).
inline __m512 SiluTimes(__m512 g, __m512 u) {
  const __m512 e = Exp(_mm512_sub_ps(_mm512_setzero_ps(), g));
  return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

// gelu_tanh(v) = v / (1 + exp(-c2 (v + 0.044715 v^3))), the expression of ref::GeluTanh
// multiplied in its order (no fused steps; exact IEEE division).
inline __m512 GeluTanh16(__m512 v) {
  const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), v), v), v);
  const __m512 e = Exp(_mm512_mul_ps(_mm512_set1_ps(-ref::kGeluTanhC2), _mm512_add_ps(v, cube)));
  return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// The epilogue of the few-row SwiGLU tiles: out[b * ld + a] = silu(g[a][b]) * u[a][b] for the
// NJ x NI dot products of a tile, in one masked vector (a scalar exp per output cost about a
// third of the products at k = 1280).
template <int NJ, int NI>
inline void StoreSiluTimes(const float (&g)[NJ][NI], const float (&u)[NJ][NI], float* out, int64_t ld) {
  static_assert(NJ * NI <= 16);
  constexpr __mmask16 kLive = static_cast<__mmask16>((1u << (NJ * NI)) - 1);
  alignas(64) float r[16];
  _mm512_store_ps(r, SiluTimes(_mm512_maskz_loadu_ps(kLive, &g[0][0]), _mm512_maskz_loadu_ps(kLive, &u[0][0])));
  for (int a = 0; a < NJ; ++a)
    for (int b = 0; b < NI; ++b) out[b * ld + a] = r[a * NI + b];
}

// out[i * ldo + c] = silu(out[i * ldo + c]) * up[i * ldu + c] for rows i < m, columns c < w: whole
// vectors, the last one masked, so every element takes the same vector expression.
inline void SiluTimesRows(float* out, int64_t ldo, const float* up, int64_t ldu, int64_t m,
                          int64_t w) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < w; c += 16) {
      const __mmask16 mask = static_cast<__mmask16>(w - c >= 16 ? 0xffff : (1u << (w - c)) - 1);
      float* o = out + i * ldo + c;
      const __m512 u = _mm512_maskz_loadu_ps(mask, up + i * ldu + c);
      _mm512_mask_storeu_ps(o, mask, SiluTimes(_mm512_maskz_loadu_ps(mask, o), u));
    }
}

}  // namespace dsvl2::kernels::cpu
