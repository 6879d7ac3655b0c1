// AVX-512 attention pieces: the row softmax of AttendMany (max, exp, sum and normalise, 16 lanes
// at a time with masked tails) and single-query decode attention (AttendOneAvx512). exp is a
// Cody-Waite range reduction + degree-6 polynomial (~2 ulp, exp_avx512.h).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/attn.h"
#include "kernels/cpu/attn_blocks.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/mask_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

inline float Dot(const float* a, const float* b, int n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int d = 0;
  for (; d + 32 <= n; d += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + d + 16), _mm512_loadu_ps(b + d + 16), s1);
  }
  for (; d < n; d += 16) {
    const __mmask16 k = Mask16(n - d);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + d), _mm512_maskz_loadu_ps(k, b + d), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// One block of up to 16 keys for AttendOneAvx512 (the online-softmax state m, l and out).
struct Block16 {
  static constexpr int kKeys = 16;
  static void Run(const float* q, int dk, const float* const* rows, int nk, int64_t k_offset,
                  int64_t v_offset, int dv, float scale, float* m, float* l, float* out) {
    alignas(64) float s[16];
    for (int j = 0; j < nk; ++j) s[j] = Dot(q, rows[j] + k_offset, dk);
    const __mmask16 live = Mask16(nk);
    const __m512 sv = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, s), _mm512_set1_ps(scale));
    const float m_new = std::max(*m, _mm512_mask_reduce_max_ps(live, sv));
    const float corr = std::exp(*m - m_new);  // 0 on the first block (m = -inf)
    const __m512 p = _mm512_maskz_mov_ps(live, Exp(_mm512_sub_ps(sv, _mm512_set1_ps(m_new))));
    _mm512_store_ps(s, p);
    *l = *l * corr + _mm512_reduce_add_ps(p);
    *m = m_new;
    // out = out * corr + sum_j p_j v_j, 64 outputs (4 chains) at a time.
    const __m512 vc = _mm512_set1_ps(corr);
    int d = 0;
    for (; d + 64 <= dv; d += 64) {
      __m512 a0 = _mm512_mul_ps(_mm512_loadu_ps(out + d), vc),
             a1 = _mm512_mul_ps(_mm512_loadu_ps(out + d + 16), vc),
             a2 = _mm512_mul_ps(_mm512_loadu_ps(out + d + 32), vc),
             a3 = _mm512_mul_ps(_mm512_loadu_ps(out + d + 48), vc);
      for (int j = 0; j < nk; ++j) {
        const float* v = rows[j] + v_offset + d;
        const __m512 pj = _mm512_set1_ps(s[j]);
        a0 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v), a0);
        a1 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + 16), a1);
        a2 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + 32), a2);
        a3 = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + 48), a3);
      }
      _mm512_storeu_ps(out + d, a0);
      _mm512_storeu_ps(out + d + 16, a1);
      _mm512_storeu_ps(out + d + 32, a2);
      _mm512_storeu_ps(out + d + 48, a3);
    }
    for (; d < dv; d += 16) {
      const __mmask16 k = Mask16(dv - d);
      __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, out + d), vc);
      for (int j = 0; j < nk; ++j)
        a = _mm512_fmadd_ps(_mm512_set1_ps(s[j]), _mm512_maskz_loadu_ps(k, rows[j] + v_offset + d),
                            a);
      _mm512_mask_storeu_ps(out + d, k, a);
    }
  }
};

}  // namespace

void AttendOneAvx512(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
                     int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale,
                     float* out) {
  AttendOneBlocked<Block16>(q, dk, spans, num_spans, row_stride, k_offset, v_offset, dv, n_keys,
                            scale, out);
}

void SoftmaxRowAvx512(float* s, int64_t len, int64_t n, float scale) {
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-__builtin_inff());
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = Mask16(len - j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + j), vscale);
    _mm512_mask_storeu_ps(s + j, k, v);
    vmax = _mm512_mask_max_ps(vmax, k, vmax, v);
  }
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = Mask16(len - j);
    const __m512 e = Exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), mx));
    _mm512_mask_storeu_ps(s + j, k, e);
    vsum = _mm512_mask_add_ps(vsum, k, vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (int64_t j = 0; j < len; j += 16) {
    const __mmask16 k = Mask16(len - j);
    _mm512_mask_storeu_ps(s + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + j), inv));
  }
  std::fill(s + len, s + n, 0.0f);
}

}  // namespace dsvl2::kernels::cpu
