// AVX-512 products for bf16 weights and 1..kGemmMinRowsAvx512Bf16-1 input rows at full precision
// (f32 activations, bf16 weights widened exactly, f32 sums): decode's matvec, batched decode and
// the experts of a prefill (~12 tokens each at 128 tokens) on the `avx512` table at
// MatMulPrecision::kHigh, and at kMedium where the CPU's bf16 dot product is not faster than its
// f32 FMA (Avx512Bf16Usable). The AVX-512 form of cpu/matmul_bf16_rows_avx2.cc.
//
// Why not the 4-column x 2-row tiles of matmul_avx512.cc: widening 16 bf16 weights to f32 takes two
// vector ops there (zero-extend, shift; the zero-extend is a port-5 shuffle on Intel), and each
// widened vector fed only 2 FMAs, so the widening took about as many vector slots as the products.
// Here 32 bf16 weights (one load) are widened by one shift (even elements: w << 16) and one and
// (odd elements: w & 0xffff0000), and each widened vector feeds NI = 3 input rows, permuted once
// per call to match: every 32 elements of k stored as [x0 x2 .. x30 | x1 x3 .. x31]. The sums are
// the same dot products in another order.
//
// Register tile: NJ weight rows x 3 input rows (8 x 3 for a product, 2 matrices x 4 x 3 for
// SwiGLU: 24 accumulators, 3 rows of x, a weight vector and the odd-half mask: 29 of 32). Each
// half (even, odd) loads its weight rows again (L1) rather than keeping NJ vectors live. The NJ
// weight rows stay in L1 while the row tiles pass over them; the next column block's rows are
// prefetched while this one computes (cpu/dot_rows_plan.h). A k % 32 tail is one masked step
// (zeros past k on both sides).
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "base/logging.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/dot_rows_plan.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/hsum_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

// The input rows permuted once per call, each padded with zeros to a multiple of 32: [m][kp].
// Per-thread scratch, reused.
using Rows = PreparedRows<float>;

Rows PermuteRows(const float* x, int64_t m, int64_t k) {
  thread_local std::vector<float> buf;
  const int64_t kp = (k + 31) / 32 * 32;
  if (buf.size() < static_cast<size_t>(m * kp)) buf.resize(static_cast<size_t>(m * kp));
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    float* out = buf.data() + i * kp;
    for (int64_t t = 0; t < kp; t += 32) {
      const int64_t n = std::min<int64_t>(32, k - t);
      const __mmask16 lo = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
      const __mmask16 hi = static_cast<__mmask16>(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
      const __m512 a = _mm512_maskz_loadu_ps(lo, row + t), b = _mm512_maskz_loadu_ps(hi, row + t + 16);
      _mm512_storeu_ps(out + t, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(out + t + 16, _mm512_permutex2var_ps(a, odd, b));
    }
  }
  return {buf.data(), kp};
}

// Half H of 32 bf16 weights from p (n of them, the rest zero) as f32: H = 0 the even elements
// (w << 16), H = 1 the odd ones (w & 0xffff0000).
template <int H>
inline __m512 LoadHalf(const uint16_t* p, int64_t n) {
  __m512i v;
  if (n >= 32) {
    v = _mm512_loadu_si512(p);
  } else {
    v = _mm512_maskz_loadu_epi16(static_cast<__mmask32>((uint64_t{1} << n) - 1), p);
  }
  if constexpr (H == 0) return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int32_t>(0xffff0000u))));
}

// sums[v][a][b] = dot(x row b, row a of ws[v]) over k, for NW matrices, NJ weight rows (ws[v]
// already offset to the first, row stride k) and NI permuted input rows (x already offset, row
// stride kp). Each full step along k also prefetches, at the same k, L weight rows from pf[v] on.
struct F32Rows {
  using X = float;
  template <int NW, int NJ, int NI, int L>
  static void Dots(const float* x, int64_t kp, int64_t k, const uint16_t* const* ws, const uint16_t* const* pf,
                   float sums[NW][NJ][NI]) {
    __m512 acc[NW][NJ][NI];
#pragma GCC unroll 2
    for (int v = 0; v < NW; ++v)
#pragma GCC unroll 8
      for (int a = 0; a < NJ; ++a)
#pragma GCC unroll 3
        for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_setzero_ps();
    auto half = [&](auto h, int64_t t, int64_t left) __attribute__((always_inline)) {
      __m512 xv[NI];
#pragma GCC unroll 3
      for (int b = 0; b < NI; ++b) {
        xv[b] = _mm512_loadu_ps(x + b * kp + t + 16 * h());
        __asm__("" : "+v"(xv[b]));  // in a register (else GCC reloads it as an operand of every FMA)
      }
#pragma GCC unroll 2
      for (int v = 0; v < NW; ++v)
#pragma GCC unroll 8
        for (int a = 0; a < NJ; ++a) {
          const uint16_t* wp = ws[v] + a * k + t;
          // The odd half loads the weights again: hidden from GCC, which otherwise keeps all NJ
          // vectors of the even half live across it (and spills).
          if constexpr (h() == 1) __asm__("" : "+r"(wp));
          const __m512 wv = LoadHalf<h()>(wp, left);
#pragma GCC unroll 3
          for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_fmadd_ps(wv, xv[b], acc[v][a][b]);
        }
    };
    int64_t t = 0;
    for (; t + 32 <= k; t += 32) {
#pragma GCC unroll 2
      for (int v = 0; v < NW; ++v)
#pragma GCC unroll 8
        for (int l = 0; l < L; ++l) _mm_prefetch(reinterpret_cast<const char*>(pf[v] + l * k + t), _MM_HINT_T0);
      half(std::integral_constant<int, 0>{}, t, 32);
      half(std::integral_constant<int, 1>{}, t, 32);
    }
    if (t < k) {
      half(std::integral_constant<int, 0>{}, t, k - t);
      half(std::integral_constant<int, 1>{}, t, k - t);
    }
    SumAll<NW * NJ * NI>(&acc[0][0][0], &sums[0][0][0]);
  }
};
using Tiles = DotTiles<F32Rows>;

// Weight rows per tile for one input row (decode's matvec): 4 streams from memory (and 4 rows of
// the next block prefetched) rather than 8. `gemm_bench --decode`, cold weights, tables
// alternated round by round, 2 threads, Zen 5: 8 rows 39-46 GB/s, 4 rows 41-46 (60-65 at the
// VM's faster moments, 8 rows 55-62); 2 and 3 rows no better. SwiGLU's tile streams two
// matrices, so half as many rows of each.
constexpr int kNjOneRow = 4;

}  // namespace

void MatMulBf16RowsF32Avx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                             float* y) {
  DSVL2_CHECK_MSG(w.dtype == DType::kBF16 && m >= 0 && k >= 1, "MatMulBf16RowsF32Avx512: bf16 weights");
  if (m == 0) return;
  const uint16_t* wd = static_cast<const uint16_t*>(w.data);
  if (m == 1) return Tiles::Product<kNjOneRow>(PermuteRows(x, m, k), m, k, wd, w.dim(0), bias, y);
  Tiles::Product<8>(PermuteRows(x, m, k), m, k, wd, w.dim(0), bias, y);
}

void MatMulColsBf16RowsF32Avx512(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                                 int64_t j1, float* y) {
  const uint16_t* wd = static_cast<const uint16_t*>(w.data);
  if (m == 1) return Tiles::ProductCols<kNjOneRow>(PermuteRows(x, m, k), m, k, wd, w.dim(0), 0, nullptr, y, j0, j1);
  Tiles::ProductCols<8>(PermuteRows(x, m, k), m, k, wd, w.dim(0), 0, nullptr, y, j0, j1);
}

void SwiGluColsBf16RowsF32Avx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                                 const TensorView& up, int64_t j0, int64_t j1, float* out) {
  const int64_t n = gate.dim(0), w = j1 - j0;
  if (w <= 0) return;
  thread_local std::vector<float> ubuf;
  if (ubuf.size() < static_cast<size_t>(m * w)) ubuf.resize(static_cast<size_t>(m * w));
  const uint16_t *g = static_cast<const uint16_t*>(gate.data), *u = static_cast<const uint16_t*>(up.data);
  if (m == 1)
    Tiles::GateUpCols<kNjOneRow / 2>(PermuteRows(x, m, k), m, k, g, u, n, out, ubuf.data(), j0, j1);
  else
    Tiles::GateUpCols<4>(PermuteRows(x, m, k), m, k, g, u, n, out, ubuf.data(), j0, j1);
  // silu(gate) * up over the call's columns after all tiles:
  // as a per-tile epilogue its exp and division (one dependent chain of ~100 cycles per 12
  // outputs) had taken ~15% of the tiles' time.
  SiluTimesRows(out + j0, n, ubuf.data(), w, m, w);
}

}  // namespace dsvl2::kernels::cpu
