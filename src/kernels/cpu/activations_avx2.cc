// AVX2 element-wise activations: the expressions of ref/activations_ref.cc, 8 lanes at a
// time with the vector exp (exp_avx2.h, ~2 ulp against std::exp); tails of fewer than 8 take the
// scalar reference. Divisions are exact IEEE divisions, not reciprocal estimates.
#include <immintrin.h>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx2.h"
#include "kernels/ref/ref.h"

namespace dsvl2::kernels::cpu {

void SiluMulAvx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = Exp(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
  }
  ref::SiluMul(gate + i, up + i, n - i, out + i);
}

void GeluTanhAvx2(float* x, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), c = _mm256_set1_ps(0.044715f);
  const __m256 neg_c2 = _mm256_set1_ps(-ref::kGeluTanhC2);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // -c2 * (v + 0.044715 v^3), multiplied in the reference's order (no fused steps).
    const __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(c, v), v), v);
    const __m256 e = Exp(_mm256_mul_ps(neg_c2, _mm256_add_ps(v, cube)));
    _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
  }
  ref::GeluTanh(x + i, n - i);
}

}  // namespace dsvl2::kernels::cpu
