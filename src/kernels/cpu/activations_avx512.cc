// AVX-512 element-wise activations: the expressions of ref/activations_ref.cc, 16 lanes at a
// time with the vector exp (exp_avx512.h, ~2 ulp against std::exp); tails of fewer than 16 take the
// scalar reference. Divisions are exact IEEE divisions, not reciprocal estimates.
#include <immintrin.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/ref/ref.h"

namespace dsvl2::kernels::cpu {

void SiluMulAvx512(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, SiluTimes(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
  ref::SiluMul(gate + i, up + i, n - i, out + i);
}

void GeluTanhAvx512(float* x, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f), c = _mm512_set1_ps(0.044715f);
  const __m512 neg_c2 = _mm512_set1_ps(-ref::kGeluTanhC2);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    // -c2 * (v + 0.044715 v^3), multiplied in the reference's order (no fused steps).
    const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(c, v), v), v);
    const __m512 e = Exp(_mm512_mul_ps(neg_c2, _mm512_add_ps(v, cube)));
    _mm512_storeu_ps(x + i, _mm512_div_ps(v, _mm512_add_ps(one, e)));
  }
  ref::GeluTanh(x + i, n - i);
}

}  // namespace dsvl2::kernels::cpu
