// AVX2+FMA packed GEMM for many input rows: 6 x 16 f32 micro-kernel (12 ymm accumulators, two
// packed weight vectors and one broadcast x value per step). Weight panels are converted from
// bf16/f16/f32 and x blocks packed with 8 x 8 in-register transposes. Loop nest: gemm_driver.h.
#include <immintrin.h>

#include <algorithm>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/gemm_driver.h"
#include "kernels/cpu/load_avx2.h"

namespace dsvl2::kernels::cpu {
namespace {

// In-register transpose of 8 x 8 floats: r[i] = row i -> r[c] = column c.
inline void Transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m256 u[8];
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

struct Avx2Kernel {
  static constexpr int kMr = 6;
  static constexpr int kNr = 16;
  static constexpr int kXSlack = 8;  // PackX's overlapping stores write 8 - kMr floats past kc*kMr

  // Weight columns [j0, j0+nvalid) x k [k0, k0+kc) -> out[p * kNr + c]: 8 columns x 8 steps
  // loaded (bf16/f16 widened), transposed in registers, stored as 8 packed steps.
  template <DType T>
  static void PackWAs(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
                      float* out) {
    const int64_t k = w.dim(1);
    for (int cb = 0; cb < kNr; cb += 8) {
      const int rows = std::max(0, std::min(8, nvalid - cb));
      int64_t p = 0;
      if (rows == 8) {
        for (; p + 8 <= kc; p += 8) {
          __m256 r[8];
          for (int c = 0; c < 8; ++c) r[c] = Load8<T>(w.data, (j0 + cb + c) * k + k0 + p);
          Transpose8(r);
          for (int q = 0; q < 8; ++q) _mm256_storeu_ps(out + (p + q) * kNr + cb, r[q]);
        }
      }
      for (; p < kc; ++p)
        for (int c = 0; c < 8; ++c)
          out[p * kNr + cb + c] =
              c < rows ? LoadScalar<T>(w.data, (j0 + cb + c) * k + k0 + p) : 0.0f;
    }
  }

  static void PackW(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
                    float* out) {
    switch (w.dtype) {
      case DType::kBF16:
        return PackWAs<DType::kBF16>(w, j0, nvalid, k0, kc, out);
      case DType::kF16:
        return PackWAs<DType::kF16>(w, j0, nvalid, k0, kc, out);
      default:
        return PackWAs<DType::kF32>(w, j0, nvalid, k0, kc, out);
    }
  }

  // x rows [i0, i0+mr) x cols [k0, k0+kc) -> out[p * kMr + r] (zero rows past mr): 8 steps of
  // the 6 rows (and 2 zero rows) transposed in registers and stored 8 wide at a stride of 6, each
  // store's last two lanes overwritten by the next (kXSlack floats of slack after the block).
  static void PackX(const float* x, int64_t k, int64_t i0, int mr, int64_t k0, int64_t kc,
                    float* out) {
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = i < mr && i < kMr ? _mm256_loadu_ps(x + (i0 + i) * k + k0 + p) : _mm256_setzero_ps();
      Transpose8(r);
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(out + (p + q) * kMr, r[q]);
    }
    for (; p < kc; ++p)
      for (int i = 0; i < kMr; ++i) out[p * kMr + i] = i < mr ? x[(i0 + i) * k + k0 + p] : 0.0f;
  }

  template <int MR>
  static void Micro(const float* xp, const float* wp, int64_t kc, float* y, int64_t ldy, int nvalid,
                    const float* bias, bool first) {
    constexpr int kNv = kNr / 8;
    __m256 c[MR][kNv];
    for (int r = 0; r < MR; ++r)
      for (int v = 0; v < kNv; ++v) c[r][v] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; ++p) {
      __m256 b[kNv];
      for (int v = 0; v < kNv; ++v) b[v] = _mm256_loadu_ps(wp + p * kNr + 8 * v);
      const float* xr = xp + p * kMr;
      for (int r = 0; r < MR; ++r) {
        const __m256 a = _mm256_broadcast_ss(xr + r);
        for (int v = 0; v < kNv; ++v) c[r][v] = _mm256_fmadd_ps(a, b[v], c[r][v]);
      }
    }
    // Epilogue in vector registers (a scalar loop over a stack copy here made GCC keep the
    // accumulators in memory and store all of them every k step).
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask[kNv];
    __m256 add[kNv];
    for (int v = 0; v < kNv; ++v) {
      mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(nvalid - 8 * v), lane);
      add[v] = first && bias ? _mm256_maskload_ps(bias + 8 * v, mask[v]) : _mm256_setzero_ps();
    }
    for (int r = 0; r < MR; ++r) {
      float* yr = y + r * ldy;
      for (int v = 0; v < kNv; ++v) {
        if (nvalid == kNr) {
          if (!first) add[v] = _mm256_loadu_ps(yr + 8 * v);
          _mm256_storeu_ps(yr + 8 * v, _mm256_add_ps(c[r][v], add[v]));
        } else {
          if (!first) add[v] = _mm256_maskload_ps(yr + 8 * v, mask[v]);
          _mm256_maskstore_ps(yr + 8 * v, mask[v], _mm256_add_ps(c[r][v], add[v]));
        }
      }
    }
  }
};

}  // namespace

void GemmAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
              float* y) {
  PackedGemm<Avx2Kernel>::Run(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
