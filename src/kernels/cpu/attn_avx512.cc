// AVX-512 row softmax for AttendMany: max, exp (Cody-Waite range reduction + degree-6
// polynomial, ~2 ulp), sum and normalise, 16 lanes at a time with masked tails.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/attn.h"

namespace dsvl2::kernels::cpu {
namespace {

// exp(x) for x <= 0 (inputs below -87 give 0 or a denormal-free tiny value).
inline __m512 Exp(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
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

inline __mmask16 Tail(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

}  // namespace

void SoftmaxRowAvx512(float* s, int64_t len, int64_t n, float scale) {
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = Tail(len - j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + j), vscale);
    _mm512_mask_storeu_ps(s + j, k, v);
    vmax = _mm512_mask_max_ps(vmax, k, vmax, v);
  }
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = Tail(len - j);
    const __m512 e = Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), mx));
    _mm512_mask_storeu_ps(s + j, k, e);
    vsum = _mm512_mask_add_ps(vsum, k, vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = Tail(len - j);
    _mm512_mask_storeu_ps(s + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + j), inv));
  }
  std::fill(s + len, s + n, 0.0f);
}

}  // namespace dsvl2::kernels::cpu
