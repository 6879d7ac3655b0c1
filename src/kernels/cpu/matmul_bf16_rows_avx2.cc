// AVX2+FMA products for bf16 weights and 1..kGemmMinRowsAvx2Bf16-1 input rows at full precision
// (f32 activations, bf16 weights widened exactly, f32 sums): the few-row form for CPUs without
// AVX-512 (decode's matvec; batched decode; the experts of a 128-token prefill see ~12 tokens
// each).
//
// Why not the 4-column x 2-row tiles of matmul_avx2.cc: widening a bf16 vector to f32 takes two
// vector ops (zero-extend, shift), and with 2 input rows each widened vector fed only 2 FMAs, so
// the widening took about as many vector slots as the products (33-39% of the FMA peak on the
// expert shapes at 4-16 rows, Zen 3, gemm_bench). Here 16 bf16 weights are widened by one shift
// (even elements: w << 16) and one and (odd elements: w & 0xffff0000), and each widened vector
// feeds NI = 3 rows; the input rows are permuted once per call to match, every 16 elements of k
// stored as [x0 x2 .. x14 | x1 x3 .. x15]. The sums are the same dot products in another order.
//
// Register tile: kNj = 3 weight rows x 3 input rows (9 accumulators, 3 rows of x, one weight
// vector and the odd-half mask: no spills; a 4 x 3 tile needed 17 registers and spilled). The
// weight rows stay in L1 while the row tiles pass over them. SwiGLU runs the gate product, then the
// up product over the call's columns, then silu(gate) * up in one pass. A k % 16 tail goes through
// a zero padded copy (weights) and zero padded rows (x). The next column block's weight rows are
// prefetched while this one computes (the matmul_bf16_rows_avx512.cc scheme: an expert's weights
// come from memory once per prefill, in rows too short for the hardware prefetcher).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/logging.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/dot_rows_plan.h"

namespace dsvl2::kernels::cpu {
namespace {

// The input rows permuted once per call, each padded with zeros to a multiple of 16: [m][kp].
// Per-thread scratch, reused.
using Rows = PreparedRows<float>;

Rows PermuteRows(const float* x, int64_t m, int64_t k) {
  thread_local std::vector<float> buf;
  const int64_t kp = (k + 15) / 16 * 16;
  if (buf.size() < static_cast<size_t>(m * kp)) buf.resize(static_cast<size_t>(m * kp));
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    float* out = buf.data() + i * kp;
    int64_t t = 0;
    for (; t + 16 <= k; t += 16) {
      // a = x[t..t+8) -> [x0 x2 x4 x6 | x1 x3 x5 x7], b likewise for x[t+8..t+16).
      const __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(row + t), even);
      const __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(row + t + 8), even);
      _mm256_storeu_ps(out + t, _mm256_permute2f128_ps(a, b, 0x20));      // evens
      _mm256_storeu_ps(out + t + 8, _mm256_permute2f128_ps(a, b, 0x31));  // odds
    }
    if (t < k) {
      float tail[16] = {};
      std::memcpy(tail, row + t, static_cast<size_t>(k - t) * sizeof(float));
      for (int e = 0; e < 8; ++e) {
        out[t + e] = tail[2 * e];
        out[t + 8 + e] = tail[2 * e + 1];
      }
    }
  }
  return {buf.data(), kp};
}

// Half h of 16 bf16 weights from p (n of them, the rest zero) as f32: h = 0 the even elements
// (w << 16), h = 1 the odd ones (w & 0xffff0000). Each half loads the 32 bytes again (an L1
// load) instead of keeping the other half live across the row loop.
template <int H>
inline __m256 LoadHalf(const uint16_t* p, int64_t n) {
  __m256i v;
  if (n >= 16) {
    v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  } else {
    alignas(32) uint16_t tail[16] = {};
    std::memcpy(tail, p, static_cast<size_t>(n) * sizeof(uint16_t));
    v = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
  }
  if constexpr (H == 0) return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  return _mm256_castsi256_ps(
      _mm256_and_si256(v, _mm256_set1_epi32(static_cast<int32_t>(0xffff0000u))));
}

// The horizontal sums of 4 vectors, as one.
inline __m128 Sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

// sums[a][b] = dot(x row b, weight row a) over k, for NJ weight rows (w already offset to the
// first, row stride k) and NI permuted input rows (x already offset, row stride kp). Each full
// step also prefetches, at the same k, L weight rows from pf on (row stride k).
struct F32Rows {
  using X = float;
  // Out of line: inlined into the column loops (GCC's choice once this became a member of
  // DotTiles' kernel) it ran 5-10% slower at 12-24 rows (moe_experts_bench --hot, DSVL2_ISA=avx2).
  template <int NW, int NJ, int NI, int L>
  __attribute__((noinline)) static void Dots(const float* x, int64_t kp, int64_t k, const uint16_t* const* ws, const uint16_t* const* pfs,
                   float sums3[NW][NJ][NI]) {
    static_assert(NW == 1, "one weight matrix per tile (SwiGLU runs gate, then up)");
    const uint16_t* const w = ws[0];
    const uint16_t* const pf = pfs[0];
    float (*const sums)[NI] = sums3[0];
    __m256 acc[NJ][NI];
#pragma GCC unroll 4
    for (int a = 0; a < NJ; ++a)
#pragma GCC unroll 4
      for (int b = 0; b < NI; ++b) acc[a][b] = _mm256_setzero_ps();
    auto half = [&](auto h, int64_t t, int64_t left) __attribute__((always_inline)) {
      __m256 xv[NI];
#pragma GCC unroll 4
      for (int b = 0; b < NI; ++b) {
        xv[b] = _mm256_loadu_ps(x + b * kp + t + 8 * h());
        __asm__("" : "+x"(xv[b]));  // in a register (else GCC reloads it as an operand of every FMA)
      }
#pragma GCC unroll 4
      for (int a = 0; a < NJ; ++a) {
        const uint16_t* wp = w + a * k + t;
        // The odd half loads the weights again: hidden from GCC, which otherwise keeps all NJ
        // vectors of the even half live across it (and spills).
        if constexpr (h() == 1) __asm__("" : "+r"(wp));
        const __m256 wv = LoadHalf<h()>(wp, left);
#pragma GCC unroll 4
        for (int b = 0; b < NI; ++b) acc[a][b] = _mm256_fmadd_ps(wv, xv[b], acc[a][b]);
      }
    };
    int64_t t = 0;
    for (; t + 16 <= k; t += 16) {
#pragma GCC unroll 4
      for (int l = 0; l < L; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(pf + l * k + t), _MM_HINT_T0);
      half(std::integral_constant<int, 0>{}, t, 16);
      half(std::integral_constant<int, 1>{}, t, 16);
    }
    if (t < k) {
      half(std::integral_constant<int, 0>{}, t, k - t);
      half(std::integral_constant<int, 1>{}, t, k - t);
    }
    constexpr int kN = NJ * NI;
    const __m256* flat = &acc[0][0];
    float* out = &sums[0][0];
    int i = 0;
#pragma GCC unroll 4
    for (; i + 4 <= kN; i += 4)
      _mm_storeu_ps(out + i, Sum4(flat[i], flat[i + 1], flat[i + 2], flat[i + 3]));
    if (i < kN) {
      const __m256 z = _mm256_setzero_ps();
      alignas(16) float rest[4];
      _mm_store_ps(rest,
                   Sum4(flat[i], i + 1 < kN ? flat[i + 1] : z, i + 2 < kN ? flat[i + 2] : z, z));
      for (int r = 0; i + r < kN; ++r) out[i + r] = rest[r];
    }
  }
};
using Tiles = DotTiles<F32Rows>;

constexpr int kNj = 3;  // weight rows per tile (3 x 3 accumulators, 3 rows of x, a weight vector
                        // and the odd-half mask: 14 of AVX2's 16 registers)

}  // namespace

void MatMulBf16RowsAvx2(const float* x, int64_t m, int64_t k, const TensorView& w,
                        const float* bias, float* y) {
  DSVL2_CHECK_MSG(w.dtype == DType::kBF16 && m >= 0 && k >= 1, "MatMulBf16RowsAvx2: bf16 weights");
  if (m == 0) return;
  Tiles::Product<kNj>(PermuteRows(x, m, k), m, k, static_cast<const uint16_t*>(w.data), w.dim(0), bias, y);
}

void MatMulColsBf16RowsAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                            int64_t j1, float* y) {
  Tiles::ProductCols<kNj>(PermuteRows(x, m, k), m, k, static_cast<const uint16_t*>(w.data), w.dim(0), 0,
                          nullptr, y, j0, j1);
}

void SwiGluColsBf16RowsAvx2(const float* x, int64_t m, int64_t k, const TensorView& gate,
                            const TensorView& up, int64_t j0, int64_t j1, float* out) {
  const uint16_t* g = static_cast<const uint16_t*>(gate.data);
  const uint16_t* u = static_cast<const uint16_t*>(up.data);
  const int64_t n = gate.dim(0), w = j1 - j0;
  if (w <= 0) return;
  const Rows xp = PermuteRows(x, m, k);
  thread_local std::vector<float> ubuf;
  if (ubuf.size() < static_cast<size_t>(m * w)) ubuf.resize(static_cast<size_t>(m * w));
  float* const ub = ubuf.data();
  // gate to out, up to ub, then silu(gate) * up (one pass after all tiles, out of their chains).
  Tiles::ProductCols<kNj>(xp, m, k, g, n, 0, nullptr, out, j0, j1);
  Tiles::ProductCols<kNj>(xp, m, k, u, w, j0, nullptr, ub, j0, j1);
  for (int64_t i = 0; i < m; ++i) SiluMulAvx2(out + i * n + j0, ub + i * w, w, out + i * n + j0);
}

}  // namespace dsvl2::kernels::cpu
