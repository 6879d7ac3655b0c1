// AVX-512-BF16 products for bf16 weights and 2..kBf16SmallMinRows-1 input rows at
// MatMulPrecision::kMedium (the experts of a prefill see ~12 tokens each at 128 tokens): the
// numerics of the other medium kernels (activations rounded to bf16, nearest even; bf16 pairs
// accumulated in f32 by vdpbf16ps) in the dot-product form of matmul_avx512.cc.
//
// Why a third form: the few-row GEMM (gemm_bf16_small_avx512.cc) puts input rows in the 16 lanes,
// so below 16 rows it wastes lanes (m = 8: half its rate, which is then below the f32 path's). Here
// a weight row and an input row are both read along k, 32 elements (16 pairs) per vector, so every
// lane does useful work for any m; the price is one horizontal sum per output at the end, which is
// small against k / 32 products. The activations are rounded to bf16 once per call into scratch
// (zero-padded rows of a multiple of 32), so the inner loop loads one vector per input row and
// step; rounding them on the fly instead (per column block and row tile) had cost a third of the
// dot products' vector slots. MoeLayer::RunBatched hands each thread's columns of an expert over
// in one call, so the rounding is once per expert and thread.
//
// Register tile: NJ weight rows x NI input rows (8 x 3 for a product, 2 matrices x 4 x 3 for
// SwiGLU: 24 accumulators); the NJ weight rows (k x 2 bytes each) stay in L1 while the row tiles
// pass over them. A k % 32 tail is loaded masked (zeros past k on both sides, so an odd k needs
// no special case).
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "base/logging.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/dot_rows_plan.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/hsum_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

// The input rows rounded to bf16 once per call (nearest even), each padded with zeros to a
// multiple of 32: [m][kp]. Per-thread scratch, reused.
using Rows = PreparedRows<uint16_t>;

Rows RoundRows(const float* x, int64_t m, int64_t k) {
  thread_local std::vector<uint16_t> buf;
  const int64_t kp = (k + 31) / 32 * 32;
  if (buf.size() < static_cast<size_t>(m * kp)) buf.resize(static_cast<size_t>(m * kp));
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    uint16_t* out = buf.data() + i * kp;
    for (int64_t t = 0; t < kp; t += 32) {
      const int64_t n = std::min<int64_t>(32, k - t);
      const __mmask16 lo = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
      const __mmask16 hi = static_cast<__mmask16>(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
      _mm512_storeu_si512(out + t, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(
                                       _mm512_maskz_loadu_ps(hi, row + t + 16), _mm512_maskz_loadu_ps(lo, row + t))));
    }
  }
  return {buf.data(), kp};
}

inline __m512bh LoadW(const uint16_t* p, int64_t n) {
  if (n >= 32) return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p));
  const __mmask32 mask = static_cast<__mmask32>((uint64_t{1} << n) - 1);
  return reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(mask, p));
}

// sums[v][a][b] = dot(x row b, row a of ws[v]) over k, for NW matrices, NJ weight rows (ws[v]
// already offset to the first) and NI bf16 input rows (x already offset, row stride kp). Each
// full step along k also prefetches, at the same k, L weight rows from pf[v] on (row stride k;
// see OverColumns, cpu/dot_rows_plan.h). The steps are unmasked; a k % 32 tail is one masked step.
struct Bf16Rows {
  using X = uint16_t;
  template <int NW, int NJ, int NI, int L>
  static void Dots(const uint16_t* x, int64_t kp, int64_t k, const uint16_t* const* ws, const uint16_t* const* pf,
                   float sums[NW][NJ][NI]) {
    __m512 acc[NW][NJ][NI];
#pragma GCC unroll 2
    for (int v = 0; v < NW; ++v)
#pragma GCC unroll 8
      for (int a = 0; a < NJ; ++a)
#pragma GCC unroll 3
        for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_setzero_ps();
    auto step = [&](int64_t t, int64_t left) __attribute__((always_inline)) {
      __m512bh xv[NI];
#pragma GCC unroll 3
      for (int b = 0; b < NI; ++b) xv[b] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(x + b * kp + t));
#pragma GCC unroll 2
      for (int v = 0; v < NW; ++v)
#pragma GCC unroll 8
        for (int a = 0; a < NJ; ++a) {
          const __m512bh wv = LoadW(ws[v] + a * k + t, left);
#pragma GCC unroll 3
          for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_dpbf16_ps(acc[v][a][b], wv, xv[b]);
        }
    };
    int64_t t = 0;
    for (; t + 32 <= k; t += 32) {
#pragma GCC unroll 2
      for (int v = 0; v < NW; ++v)
#pragma GCC unroll 8
        for (int l = 0; l < L; ++l) _mm_prefetch(reinterpret_cast<const char*>(pf[v] + l * k + t), _MM_HINT_T0);
      step(t, 32);
    }
    if (t < k) step(t, k - t);
    SumAll<NW * NJ * NI>(&acc[0][0][0], &sums[0][0][0]);
  }
};
using Tiles = DotTiles<Bf16Rows>;

}  // namespace

void MatMulBf16RowsAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                          float* y) {
  DSVL2_CHECK_MSG(w.dtype == DType::kBF16 && m >= 1 && k >= 1, "MatMulBf16RowsAvx512: bf16 weights");
  Tiles::Product<8>(RoundRows(x, m, k), m, k, static_cast<const uint16_t*>(w.data), w.dim(0), bias, y);
}

void MatMulColsBf16RowsAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                              int64_t j1, float* y) {
  Tiles::ProductCols<8>(RoundRows(x, m, k), m, k, static_cast<const uint16_t*>(w.data), w.dim(0), 0, nullptr, y,
                        j0, j1);
}

void SwiGluColsBf16RowsAvx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                              const TensorView& up, int64_t j0, int64_t j1, float* out) {
  const int64_t n = gate.dim(0), w = j1 - j0;
  if (w <= 0) return;
  thread_local std::vector<float> ubuf;
  if (ubuf.size() < static_cast<size_t>(m * w)) ubuf.resize(static_cast<size_t>(m * w));
  Tiles::GateUpCols<4>(RoundRows(x, m, k), m, k, static_cast<const uint16_t*>(gate.data),
                       static_cast<const uint16_t*>(up.data), n, out, ubuf.data(), j0, j1);
  // silu(gate) * up over the call's columns after all tiles:
  // as a per-tile epilogue its exp and division (one dependent chain of ~100 cycles per 12
  // outputs) had taken ~15% of the tiles' time.
  SiluTimesRows(out + j0, n, ubuf.data(), w, m, w);
}

}  // namespace dsvl2::kernels::cpu
