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
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, GeluTanh16(_mm512_loadu_ps(x + i)));
  ref::GeluTanh(x + i, n - i);
}

}  // namespace dsvl2::kernels::cpu
