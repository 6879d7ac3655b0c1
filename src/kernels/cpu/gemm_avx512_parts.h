// Pieces shared by the AVX-512 GEMM kernels (gemm_avx512.cc, gemm_bf16_avx512.cc,
// gemm_bf16_small_avx512.cc); included only by translation units compiled with AVX-512 (the bf16
// helpers also need AVX-512-BF16).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "base/half.h"
#include "kernels/cpu/transpose_avx512.h"

namespace dsvl2::kernels::cpu {

// Stores an MR x 32 register tile (c0: columns 0..15, c1: 16..31) into y rows [0, MR), columns
// [0, nvalid): first: y = acc (+ bias if given); otherwise y += acc. Inlined so that the caller's
// accumulators stay in registers.
template <int MR>
__attribute__((always_inline)) inline void StoreTile32(const __m512 (&c0)[MR],
                                                       const __m512 (&c1)[MR], float* y,
                                                       int64_t ldy, int nvalid, const float* bias,
                                                       bool first) {
  const __mmask16 m0 = nvalid >= 16 ? 0xffff : static_cast<__mmask16>((1u << nvalid) - 1);
  const __mmask16 m1 = nvalid >= 32   ? 0xffff
                       : nvalid <= 16 ? 0
                                      : static_cast<__mmask16>((1u << (nvalid - 16)) - 1);
  __m512 add0 = _mm512_setzero_ps(), add1 = _mm512_setzero_ps();
  if (first && bias) {
    add0 = _mm512_maskz_loadu_ps(m0, bias);
    add1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  }
  for (int r = 0; r < MR; ++r) {
    float* yr = y + r * ldy;
    if (!first) {
      add0 = _mm512_maskz_loadu_ps(m0, yr);
      add1 = _mm512_maskz_loadu_ps(m1, yr + 16);
    }
    _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(c0[r], add0));
    _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(c1[r], add1));
  }
}

// Two bf16 values, adjacent in k, as the 32-bit element vdpbf16ps takes (lo in the low half).
inline uint32_t PairBits(uint16_t lo, uint16_t hi) {
  return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
}
inline uint32_t Bf16Pair(float lo, float hi) { return PairBits(F32ToBf16(lo), F32ToBf16(hi)); }

// Rows i < rows of x (row stride ld floats), 32 floats each, rounded to bf16 (vcvtne2ps2bf16:
// nearest even) and transposed: r[p] = pair p (elements 2p, 2p+1) of rows 0..15, zero past rows.
inline void Bf16PairsTransposed(const float* x, int64_t ld, int rows, __m512 r[16]) {
  for (int i = 0; i < 16; ++i) {
    if (i < rows) {
      const float* src = x + i * ld;
      const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src));
      r[i] = _mm512_castsi512_ps(reinterpret_cast<__m512i>(b));  // 16 pairs, in k order
    } else {
      r[i] = _mm512_setzero_ps();
    }
  }
  Transpose16(r);
}

}  // namespace dsvl2::kernels::cpu
