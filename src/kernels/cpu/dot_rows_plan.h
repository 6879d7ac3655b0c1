// The loops shared by the few-row dot-product kernels (cpu/matmul_bf16_rows_avx512.cc,
// cpu/matmul_bf16_rows_f32_avx512.cc, cpu/matmul_bf16_rows_avx2.cc): input rows in tiles of 3,
// output columns in blocks of kNj weight rows, which rows of the next block each row tile
// prefetches, and the tiles over a kernel's register-tile dot products (DotTiles). Plain C++ (no
// intrinsics); included by each ISA's translation unit (hence the anonymous namespace).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "base/logging.h"
#include "base/thread_pool.h"

namespace dsvl2::kernels::cpu {
namespace {

// What a row tile prefetches: the weight rows of the next column block (the next NJ rows,
// contiguous after this block's) come from memory (an expert's weights are read once per
// prefill; the rows are too short for the hardware prefetcher to follow), so they are prefetched
// while this block computes: row tile ti takes `lines` of them (from row first = ti * lines on,
// none once first >= NJ), one cache line per row and step along k, so every tile's prefetches are
// fixed-pattern loads beside its weight loads. (Without prefetching, 64 x 11 vl2-tiny experts
// (4.8 GB, cold) at 8 / 12 rows ran 205-220 / 242-282 ms instead of 169-175 / 197-212 ms, 2
// threads, Zen 5; an earlier version computed the prefetch address per step, which cost a third
// of the kernel's time in scalar code.)
struct Ahead {
  int lines;  // rows per row tile: ceil(NJ / tiles) rounded up to a power of two
  int nj;
  int Lines(int64_t ti) const { return ti * lines >= nj ? 0 : lines; }
  int64_t First(int64_t ti) const { return ti * lines; }
};

inline Ahead PlanAhead(int nj, int64_t m) {
  const int64_t tiles = (m + 2) / 3;
  int lines = 1;
  while (lines * tiles < nj) lines *= 2;
  return {std::min(lines, nj), nj};
}

// Rows of m in tiles of 3, then a 2- or 1-row tile: tile(rows, i0, tile index) with compile-time
// rows.
template <typename F>
inline void OverRows(int64_t m, F&& tile) {
  using std::integral_constant;
  int64_t i = 0;
  for (; i + 3 <= m; i += 3) tile(integral_constant<int, 3>{}, i, i / 3);
  if (m - i == 2) tile(integral_constant<int, 2>{}, i, i / 3);
  if (m - i == 1) tile(integral_constant<int, 1>{}, i, i / 3);
}

// Columns [j0, j1) in blocks of kNj weight rows, then single rows: tile(NJ, NI, i0, row tile
// index, prefetch plan, j) with compile-time NJ and NI.
template <int kNj, typename F>
void OverColumns(int64_t m, int64_t j0, int64_t j1, F&& tile) {
  using std::integral_constant;
  const Ahead ah = PlanAhead(kNj, m), ah1 = PlanAhead(1, m);
  int64_t j = j0;
  for (; j + kNj <= j1; j += kNj)
    OverRows(m, [&](auto ni, int64_t i, int64_t ti) { tile(integral_constant<int, kNj>{}, ni, i, ti, ah, j); });
  for (; j < j1; ++j)
    OverRows(m, [&](auto ni, int64_t i, int64_t ti) { tile(integral_constant<int, 1>{}, ni, i, ti, ah1, j); });
}

// The input rows as a kernel prepares them once per call (rounded to bf16, or f32 permuted), each
// padded with zeros to kp elements: [m][kp]. Per-thread scratch of the preparing thread.
template <typename X>
struct PreparedRows {
  const X* data;
  int64_t kp;  // row stride
};

// Products over PreparedRows from a kernel K's register tile, with
//   using X = (the prepared rows' element type);
//   template <int NW, int NJ, int NI, int L>
//   static void Dots(const X* x, int64_t kp, int64_t k, const uint16_t* const* ws,
//                    const uint16_t* const* pf, float sums[NW][NJ][NI]);
// which sets sums[v][a][b] = dot(x row b, row a of ws[v]) over k for NW bf16 matrices, NJ weight
// rows (ws[v] offset to the first, row stride k) and NI input rows (x offset, row stride kp), and at
// each step along k prefetches, at the same k, L weight rows from pf[v] on.
template <typename K>
struct DotTiles {
  using X = typename K::X;
  using Rows = PreparedRows<X>;

  // K::Dots with the prefetch row count chosen at run time (Ahead::Lines: 0, a power of two below
  // NJ, or NJ).
  template <int NW, int NJ, int NI>
  static void DotsAhead(const X* x, int64_t kp, int64_t k, const uint16_t* const* ws, const uint16_t* const* pf,
                        int lines, float sums[NW][NJ][NI]) {
    if (lines == NJ) return K::template Dots<NW, NJ, NI, NJ>(x, kp, k, ws, pf, sums);
    switch (lines) {
      case 0: return K::template Dots<NW, NJ, NI, 0>(x, kp, k, ws, pf, sums);
      case 1: if constexpr (NJ > 1) return K::template Dots<NW, NJ, NI, 1>(x, kp, k, ws, pf, sums); break;
      case 2: if constexpr (NJ > 2) return K::template Dots<NW, NJ, NI, 2>(x, kp, k, ws, pf, sums); break;
      case 4: if constexpr (NJ > 4) return K::template Dots<NW, NJ, NI, 4>(x, kp, k, ws, pf, sums); break;
    }
    DSVL2_CHECK_MSG(false, "DotsAhead: prefetch rows");
  }

  // y[i, j - c0] (+ bias[j]) (row stride ldy) for columns [j0, j0 + NJ), rows [i0, i0 + NI), the
  // ti-th row tile.
  template <int NJ, int NI>
  static void ProductTile(const Rows& x, int64_t i0, int64_t ti, const Ahead& ah, int64_t k, const uint16_t* w,
                          int64_t j0, int64_t ldy, int64_t c0, const float* bias, float* y) {
    const uint16_t* ws[1] = {w + j0 * k};
    const uint16_t* pf[1] = {ws[0] + (NJ + ah.First(ti)) * k};
    float s[1][NJ][NI];
    DotsAhead<1, NJ, NI>(x.data + i0 * x.kp, x.kp, k, ws, pf, ah.Lines(ti), s);
    for (int a = 0; a < NJ; ++a)
      for (int b = 0; b < NI; ++b)
        y[(i0 + b) * ldy + j0 - c0 + a] = s[0][a][b] + (bias ? bias[j0 + a] : 0.0f);
  }

  // Columns [j0, j1) of y (y[i, j - c0], row stride ldy), on the calling thread.
  template <int kNj>
  static void ProductCols(const Rows& x, int64_t m, int64_t k, const uint16_t* w, int64_t ldy, int64_t c0,
                          const float* bias, float* y, int64_t j0, int64_t j1) {
    OverColumns<kNj>(m, j0, j1, [&](auto nj, auto ni, int64_t i, int64_t ti, const Ahead& ah, int64_t j) {
      ProductTile<nj(), ni()>(x, i, ti, ah, k, w, j, ldy, c0, bias, y);
    });
  }

  // y[m, n] = x w^T (+ bias) over the thread pool in blocks of kNj columns (at least ~32K weights
  // per piece of work); x prepared by the calling thread, read by all.
  template <int kNj>
  static void Product(const Rows& x, int64_t m, int64_t k, const uint16_t* w, int64_t n, const float* bias,
                      float* y) {
    const int64_t grain = std::max<int64_t>(1, 32768 / (kNj * k));
    ThreadPool::Global().ParallelFor((n + kNj - 1) / kNj, grain, [&](int64_t b0, int64_t b1) {
      ProductCols<kNj>(x, m, k, w, n, 0, bias, y, b0 * kNj, std::min(n, b1 * kNj));
    });
  }

  // Gate and up sums of columns [j0, j1), both matrices in one register tile: gate to out[i, j]
  // (row stride n), up to ub[i, j - j0] (row stride j1 - j0); silu(gate) * up is the caller's pass.
  template <int kNj>
  static void GateUpCols(const Rows& x, int64_t m, int64_t k, const uint16_t* gate, const uint16_t* up,
                         int64_t n, float* out, float* ub, int64_t j0, int64_t j1) {
    OverColumns<kNj>(m, j0, j1, [&](auto nj, auto ni, int64_t i0, int64_t ti, const Ahead& ah, int64_t j) {
      constexpr int NJ = nj(), NI = ni();
      const uint16_t* ws[2] = {gate + j * k, up + j * k};
      const int64_t off = (NJ + ah.First(ti)) * k;
      const uint16_t* pf[2] = {ws[0] + off, ws[1] + off};
      float s[2][NJ][NI];
      DotsAhead<2, NJ, NI>(x.data + i0 * x.kp, x.kp, k, ws, pf, ah.Lines(ti), s);
      for (int a = 0; a < NJ; ++a)
        for (int b = 0; b < NI; ++b) {
          out[(i0 + b) * n + j + a] = s[0][a][b];
          ub[(i0 + b) * (j1 - j0) + j - j0 + a] = s[1][a][b];
        }
    });
  }
};

}  // namespace
}  // namespace dsvl2::kernels::cpu
