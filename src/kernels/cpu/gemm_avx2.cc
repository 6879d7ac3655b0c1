// AVX2+FMA packed GEMM for many input rows: 6 x 16 f32 micro-kernel (12 ymm accumulators, two
// packed weight vectors and one broadcast x value per step). Weight panels are converted from
// bf16/f16/f32 while packing (scalar transpose). Loop nest: gemm_driver.h.
#include <immintrin.h>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/gemm_driver.h"

namespace dsvl2::kernels::cpu {
namespace {

struct Avx2Kernel {
  static constexpr int kMr = 6;
  static constexpr int kNr = 16;

  template <typename Convert>
  static void PackRows(const uint16_t* w, int64_t k, int64_t j0, int nvalid, int64_t k0, int64_t kc,
                       float* out, Convert cvt) {
    for (int c = 0; c < kNr; ++c) {
      if (c < nvalid) {
        const uint16_t* src = w + (j0 + c) * k + k0;
        for (int64_t p = 0; p < kc; ++p) out[p * kNr + c] = cvt(src[p]);
      } else {
        for (int64_t p = 0; p < kc; ++p) out[p * kNr + c] = 0.0f;
      }
    }
  }

  static void PackW(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
                    float* out) {
    const int64_t k = w.dim(1);
    switch (w.dtype) {
      case DType::kBF16:
        return PackRows(static_cast<const uint16_t*>(w.data), k, j0, nvalid, k0, kc, out, Bf16ToF32);
      case DType::kF16:
        return PackRows(static_cast<const uint16_t*>(w.data), k, j0, nvalid, k0, kc, out,
                        [](uint16_t h) { return _cvtsh_ss(h); });
      default:
        for (int c = 0; c < kNr; ++c) {
          const float* src = static_cast<const float*>(w.data) + (j0 + c) * k + k0;
          for (int64_t p = 0; p < kc; ++p) out[p * kNr + c] = c < nvalid ? src[p] : 0.0f;
        }
    }
  }

  template <int MR>
  static void Micro(const float* xp, const float* wp, int64_t kc, float* y, int64_t ldy,
                    int nvalid, const float* bias, bool first) {
    __m256 c0[MR], c1[MR];
    for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kc; ++p) {
      const __m256 b0 = _mm256_loadu_ps(wp + p * kNr), b1 = _mm256_loadu_ps(wp + p * kNr + 8);
      const float* xr = xp + p * kMr;
      for (int r = 0; r < MR; ++r) {
        const __m256 a = _mm256_broadcast_ss(xr + r);
        c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
        c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
      }
    }
    alignas(32) float tmp[kNr];
    for (int r = 0; r < MR; ++r) {
      float* yr = y + r * ldy;
      _mm256_store_ps(tmp, c0[r]);
      _mm256_store_ps(tmp + 8, c1[r]);
      for (int c = 0; c < nvalid; ++c)
        yr[c] = first ? tmp[c] + (bias ? bias[c] : 0.0f) : yr[c] + tmp[c];
    }
  }
};

}  // namespace

void GemmAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
              float* y) {
  PackedGemm<Avx2Kernel>::Run(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
