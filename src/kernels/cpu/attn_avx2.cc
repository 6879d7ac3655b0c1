// AVX2 single-query decode attention (AttendOneAvx2): blocks of 8 keys, scores as FMA dot
// products, one vector exp per block (Cody-Waite range reduction + degree-6 polynomial, ~2 ulp,
// as the AVX-512 one), the output rescaled once per block.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attn_blocks.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx2.h"

namespace dsvl2::kernels::cpu {
namespace {

inline float Sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float Dot(const float* a, const float* b, int n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int d = 0;
  for (; d + 16 <= n; d += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
  }
  for (; d + 8 <= n; d += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
  float sum = Sum8(_mm256_add_ps(s0, s1));
  for (; d < n; ++d) sum += a[d] * b[d];
  return sum;
}

struct Block8 {
  static constexpr int kKeys = 8;
  static void Run(const float* q, int dk, const float* const* rows, int nk, int64_t k_offset,
                  int64_t v_offset, int dv, float scale, float* m, float* l, float* out) {
    alignas(32) float s[8];
    float bmax = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < nk; ++j) {
      s[j] = Dot(q, rows[j] + k_offset, dk) * scale;
      bmax = std::max(bmax, s[j]);
    }
    const float m_new = std::max(*m, bmax);
    for (int j = nk; j < 8; ++j) s[j] = m_new;  // dead lanes, zeroed below
    const float corr = std::exp(*m - m_new);    // 0 on the first block (m = -inf)
    __m256 p = Exp(_mm256_sub_ps(_mm256_load_ps(s), _mm256_set1_ps(m_new)));
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    p = _mm256_and_ps(p, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(nk), lane)));
    _mm256_store_ps(s, p);
    *l = *l * corr + Sum8(p);
    *m = m_new;
    const __m256 vc = _mm256_set1_ps(corr);
    int d = 0;
    for (; d + 32 <= dv; d += 32) {
      __m256 a0 = _mm256_mul_ps(_mm256_loadu_ps(out + d), vc),
             a1 = _mm256_mul_ps(_mm256_loadu_ps(out + d + 8), vc),
             a2 = _mm256_mul_ps(_mm256_loadu_ps(out + d + 16), vc),
             a3 = _mm256_mul_ps(_mm256_loadu_ps(out + d + 24), vc);
      for (int j = 0; j < nk; ++j) {
        const float* v = rows[j] + v_offset + d;
        const __m256 pj = _mm256_set1_ps(s[j]);
        a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v), a0);
        a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 8), a1);
        a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 16), a2);
        a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(v + 24), a3);
      }
      _mm256_storeu_ps(out + d, a0);
      _mm256_storeu_ps(out + d + 8, a1);
      _mm256_storeu_ps(out + d + 16, a2);
      _mm256_storeu_ps(out + d + 24, a3);
    }
    for (; d + 8 <= dv; d += 8) {
      __m256 a = _mm256_mul_ps(_mm256_loadu_ps(out + d), vc);
      for (int j = 0; j < nk; ++j)
        a = _mm256_fmadd_ps(_mm256_set1_ps(s[j]), _mm256_loadu_ps(rows[j] + v_offset + d), a);
      _mm256_storeu_ps(out + d, a);
    }
    for (; d < dv; ++d) {
      float a = out[d] * corr;
      for (int j = 0; j < nk; ++j) a += s[j] * rows[j][v_offset + d];
      out[d] = a;
    }
  }
};

}  // namespace

void AttendOneAvx2(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
                   int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale,
                   float* out) {
  AttendOneBlocked<Block8>(q, dk, spans, num_spans, row_stride, k_offset, v_offset, dv, n_keys,
                           scale, out);
}

}  // namespace dsvl2::kernels::cpu
