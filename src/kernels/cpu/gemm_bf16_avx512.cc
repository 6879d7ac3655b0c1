// AVX-512-BF16 packed GEMM for bf16 weights and many input rows at MatMulPrecision::kMedium
// (prefill, vision on CPUs with vdpbf16ps but no AMX, e.g. AMD Zen 4): y = x · w^T + bias with the
// activations rounded to bf16 (round to nearest even), products of bf16 pairs accumulated in f32
// by vdpbf16ps — the numerics of PyTorch's bf16 autocast and of the AMX GEMM with one part
// (gemm_amx.cc), at twice the multiply-adds per instruction of the f32 FMA kernel. The default
// precision (high) keeps the f32 GEMM: splitting x into 3 bf16 parts would cost 1.5x its work.
//
// Same loop nest as the f32 GEMM (gemm_driver.h) and the same 14 x 32 register tile (28 zmm
// accumulators, two weight vectors, one broadcast), but every packed element is a pair of bf16
// values adjacent in k held in 32 bits, so one vdpbf16ps step covers two k:
//   weights  [ceil(kc/2)][kNr] pairs: the bf16 rows as stored are already pairs in k, so packing is
//            the f32 kernel's 16 x 16 transpose of 32-bit words, with no conversion;
//   inputs   [ceil(kc/2)][kMr] pairs: rows rounded with vcvtne2ps2bf16, then transposed.
// An odd kc pads the last pair with a zero in both operands.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "base/half.h"
#include "base/logging.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/gemm_avx512_parts.h"
#include "kernels/cpu/gemm_driver.h"
#include "kernels/cpu/peak.h"

namespace dsvl2::kernels::cpu {
namespace {

struct Bf16Kernel {
  static constexpr int kMr = 14;
  static constexpr int kNr = 32;
  // Blocks of 512 k = 256 pairs: the f32 kernel's bytes per packed block (weights in L2, x in L1).
  static constexpr int64_t kKc = 512;
  static constexpr int64_t kXBlockFloats = kKc / 2 * kMr;  // 32-bit pairs

  // out (as [ceil(kc/2)][kNr] pairs) = w[j0 + c, k0 + 2q .. k0 + 2q + 1], zero past nvalid / kc.
  static void PackW(const TensorView& w, int64_t j0, int nvalid, int64_t k0, int64_t kc,
                    float* out_f) {
    uint32_t* out = reinterpret_cast<uint32_t*>(out_f);
    const int64_t k = w.dim(1);
    const uint16_t* wd = static_cast<const uint16_t*>(w.data);
    const int64_t pairs = (kc + 1) / 2;
    for (int half = 0; half < kNr / 16; ++half) {
      const int cb = half * 16;
      const int rows = std::max(0, std::min(16, nvalid - cb));
      int64_t q = 0;
      if (rows == 16) {
        for (; 2 * q + 32 <= kc; q += 16) {
          __m512 r[16];
          for (int c = 0; c < 16; ++c) {
            const uint16_t* at = wd + (j0 + cb + c) * k + k0 + 2 * q;
            _mm_prefetch(reinterpret_cast<const char*>(at + 256), _MM_HINT_T0);
            r[c] = _mm512_castsi512_ps(_mm512_loadu_si512(at));
          }
          Transpose16(r);
          for (int p = 0; p < 16; ++p)
            _mm512_storeu_ps(reinterpret_cast<float*>(out + (q + p) * kNr + cb), r[p]);
        }
      }
      for (; q < pairs; ++q)
        for (int c = 0; c < 16; ++c) {
          uint32_t v = 0;
          if (c < rows) {
            const uint16_t* row = wd + (j0 + cb + c) * k + k0;
            v = PairBits(row[2 * q], 2 * q + 1 < kc ? row[2 * q + 1] : uint16_t{0});
          }
          out[q * kNr + cb + c] = v;
        }
    }
  }

  // x rows [i0, i0+mr) x cols [k0, k0+kc), rounded to bf16 -> out (as [ceil(kc/2)][kMr] pairs),
  // zero rows past mr.
  static void PackX(const float* x, int64_t k, int64_t i0, int mr, int64_t k0, int64_t kc,
                    float* out_f) {
    static_assert(kMr <= 16);
    uint32_t* out = reinterpret_cast<uint32_t*>(out_f);
    constexpr __mmask16 kRowMask = static_cast<__mmask16>((1u << kMr) - 1);
    const int64_t pairs = (kc + 1) / 2;
    int64_t q = 0;
    for (; 2 * q + 32 <= kc; q += 16) {
      __m512 r[16];
      Bf16PairsTransposed(x + i0 * k + k0 + 2 * q, k, mr, r);
      for (int p = 0; p < 16; ++p)
        _mm512_mask_storeu_ps(reinterpret_cast<float*>(out + (q + p) * kMr), kRowMask, r[p]);
    }
    for (; q < pairs; ++q)
      for (int i = 0; i < kMr; ++i) {
        uint32_t v = 0;
        if (i < mr) {
          const float* row = x + (i0 + i) * k + k0;
          v = Bf16Pair(row[2 * q], 2 * q + 1 < kc ? row[2 * q + 1] : 0.0f);
        }
        out[q * kMr + i] = v;
      }
  }

  template <int MR>
  static void Micro(const float* xp_f, const float* wp_f, int64_t kc, float* y, int64_t ldy,
                    int nvalid, const float* bias, bool first) {
    const uint32_t* xp = reinterpret_cast<const uint32_t*>(xp_f);
    const uint32_t* wp = reinterpret_cast<const uint32_t*>(wp_f);
    __m512 c0[MR], c1[MR];
    for (int r = 0; r < MR; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
    const int64_t pairs = (kc + 1) / 2;
    for (int64_t q = 0; q < pairs; ++q) {
      const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(wp + q * kNr));
      const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(wp + q * kNr + 16));
      const uint32_t* xr = xp + q * kMr;
      for (int r = 0; r < MR; ++r) {
        const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(xr[r])));
        c0[r] = _mm512_dpbf16_ps(c0[r], a, b0);
        c1[r] = _mm512_dpbf16_ps(c1[r], a, b1);
      }
    }
    StoreTile32<MR>(c0, c1, y, ldy, nvalid, bias, first);
  }
};

}  // namespace

bool Avx512Bf16Usable() {
  static const bool ok = __builtin_cpu_supports("avx512bf16");
  return ok;
}

namespace {
// -1: measure (Avx512Bf16Preferred); 0 / 1: set by SetAvx512Bf16PreferredForTest.
std::atomic<int> g_bf16_preferred_override{-1};

// The calling thread's multiply-add rate, flop/s, of a peak loop run `iters` times.
double Rate(double (*loop)(int64_t), int64_t iters) {
  const auto t0 = std::chrono::steady_clock::now();
  const double flops = loop(iters);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s > 0 ? flops / s : 0.0;
}

bool MeasureBf16DotFaster() {
  // Best of 3 alternated rounds of each loop (~0.1-0.3 ms each): the two differ by ~2x on the CPUs
  // seen (Zen 4 / 5: vdpbf16ps 2x the f32 FMA's flops; an Intel Xeon, family 6 model 207: 0.5x),
  // so a noisy neighbour cannot flip the answer by itself; 1.2x keeps a near tie on the f32 path.
  constexpr int64_t kIters = 40000;
  double f32 = 0, bf16 = 0;
  for (int r = 0; r < 3; ++r) {
    f32 = std::max(f32, Rate(&PeakF32FmaAvx512, kIters));
    bf16 = std::max(bf16, Rate(&PeakBf16DotAvx512, kIters));
  }
  return bf16 > 1.2 * f32;
}
}  // namespace

bool Avx512Bf16Preferred() {
  const int forced = g_bf16_preferred_override.load(std::memory_order_relaxed);
  if (forced >= 0) return forced == 1 && Avx512Bf16Usable();
  static const bool faster = Avx512Bf16Usable() && MeasureBf16DotFaster();
  return faster;
}

void SetAvx512Bf16PreferredForTest(int preferred) {
  g_bf16_preferred_override.store(preferred < 0 ? -1 : preferred != 0, std::memory_order_relaxed);
}

void GemmAvx512Bf16(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y) {
  DSVL2_CHECK_MSG(w.dtype == DType::kBF16, "GemmAvx512Bf16 takes bf16 weights");
  PackedGemm<Bf16Kernel>::Run(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
