// AVX-512 packed GEMM for many input rows: 14 x 32 f32 micro-kernel (28 zmm accumulators, two
// packed weight vectors and one broadcast x value per step), weight panels converted from
// bf16/f16/f32 and transposed 16 x 16 at a time while packing. Loop nest: gemm_driver.h.
#include <immintrin.h>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/gemm_avx512_parts.h"
#include "kernels/cpu/gemm_driver.h"
#include "kernels/cpu/transpose_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

inline __m512 Load16(DType dt, const void* base, int64_t idx) {
  switch (dt) {
    case DType::kBF16: {
      __m256i h = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case DType::kF16: {
      __m256i h = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
      return _mm512_cvtph_ps(h);
    }
    default:
      return _mm512_loadu_ps(static_cast<const float*>(base) + idx);
  }
}

inline float LoadScalar(DType dt, const void* base, int64_t idx) {
  switch (dt) {
    case DType::kBF16: return Bf16ToF32(static_cast<const uint16_t*>(base)[idx]);
    case DType::kF16: return F16ToF32(static_cast<const uint16_t*>(base)[idx]);
    default: return static_cast<const float*>(base)[idx];
  }
}

struct Avx512Kernel {
  static constexpr int kMr = 14;
  static constexpr int kNr = 32;

  static void PackW(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
                    float* out) {
    const int64_t k = w.dim(1), es = static_cast<int64_t>(DTypeSize(w.dtype));
    for (int half = 0; half < kNr / 16; ++half) {
      const int cb = half * 16;
      const int rows = std::max(0, std::min(16, nvalid - cb));
      int64_t p = 0;
      if (rows == 16) {
        for (; p + 16 <= kc; p += 16) {
          __m512 r[16];
          for (int c = 0; c < 16; ++c) {
            const int64_t at = (j0 + cb + c) * k + k0 + p;
            // 128 elements ahead in each of the 16 row streams (too many concurrent streams for
            // the hardware prefetchers: without this the loads stall on DRAM).
            _mm_prefetch(static_cast<const char*>(w.data) + (at + 128) * es, _MM_HINT_T0);
            r[c] = Load16(w.dtype, w.data, at);
          }
          Transpose16(r);
          for (int q = 0; q < 16; ++q) _mm512_storeu_ps(out + (p + q) * kNr + cb, r[q]);
        }
      }
      for (; p < kc; ++p)
        for (int c = 0; c < 16; ++c)
          out[p * kNr + cb + c] =
              c < rows ? LoadScalar(w.dtype, w.data, (j0 + cb + c) * k + k0 + p) : 0.0f;
    }
  }

  // x rows [i0, i0+mr) x cols [k0, k0+kc) -> out[p * kMr + r] (zero rows past mr): 16 columns
  // of up to 14 rows loaded, transposed in registers, stored as 16 packed steps of 14.
  static void PackX(const float* x, int64_t k, int64_t i0, int mr, int64_t k0, int64_t kc, float* out) {
    static_assert(kMr <= 16);
    constexpr __mmask16 kRowMask = static_cast<__mmask16>((1u << kMr) - 1);
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < mr ? _mm512_loadu_ps(x + (i0 + i) * k + k0 + p) : _mm512_setzero_ps();
      Transpose16(r);
      for (int q = 0; q < 16; ++q) _mm512_mask_storeu_ps(out + (p + q) * kMr, kRowMask, r[q]);
    }
    for (; p < kc; ++p)
      for (int i = 0; i < kMr; ++i) out[p * kMr + i] = i < mr ? x[(i0 + i) * k + k0 + p] : 0.0f;
  }

  template <int MR>
  static void Micro(const float* xp, const float* wp, int64_t kc, float* y, int64_t ldy,
                    int nvalid, const float* bias, bool first) {
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; ++p) {
      const __m512 b0 = _mm512_loadu_ps(wp + p * kNr), b1 = _mm512_loadu_ps(wp + p * kNr + 16);
      const float* xr = xp + p * kMr;
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(xr[r]);
        c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
        c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
      }
    }
    StoreTile32<MR>(c0, c1, y, ldy, nvalid, bias, first);
  }
};

}  // namespace

void GemmAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                float* y) {
  PackedGemm<Avx512Kernel>::Run(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
