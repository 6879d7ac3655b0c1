// The loops shared by the few-row dot-product kernels (cpu/matmul_bf16_rows_avx512.cc,
// cpu/matmul_bf16_rows_avx2.cc): input rows in tiles of 3, output columns in blocks of kNj weight
// rows, and which rows of the next block each row tile prefetches. Plain C++ (no intrinsics);
// included by each ISA's translation unit (hence the anonymous namespace).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

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

}  // namespace
}  // namespace dsvl2::kernels::cpu
