// The loops shared by the SIMD small-m matrix products (decode, few rows): output columns in
// blocks of 4, each block computed for 2 input rows at a time by the ISA's micro-tiles
//   Tile<NJ, NI>(x, i0, k, w, j0, n, bias, y)          y = x · w^T (+ bias)
//   SwiTile<NJ, NI>(x, i0, k, gate, up, j0, n, out)    out = silu(x · gate^T) * (x · up^T)
// Included by each ISA's translation unit, so the templates use that unit's instruction set.
#pragma once

#include <algorithm>
#include <cstdint>

#include "base/thread_pool.h"

namespace dsvl2::kernels::cpu {

// Columns [j0, j1) of y[m, n], on the calling thread.
template <typename Tiles>
void TileCols(const float* x, int64_t m, int64_t k, const void* w, int64_t n, const float* bias,
              float* y, int64_t j0, int64_t j1) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) Tiles::template Tile<4, 2>(x, i, k, w, j, n, bias, y);
    for (; i < m; ++i) Tiles::template Tile<4, 1>(x, i, k, w, j, n, bias, y);
  }
  for (; j < j1; ++j)
    for (int64_t i = 0; i < m; ++i) Tiles::template Tile<1, 1>(x, i, k, w, j, n, bias, y);
}

// Columns [j0, j1) of out[m, n] = silu(x · gate^T) * (x · up^T), on the calling thread.
template <typename Tiles>
void SwiTileCols(const float* x, int64_t m, int64_t k, const void* gate, const void* up, int64_t n,
                 float* out, int64_t j0, int64_t j1) {
  int64_t j = j0;
  for (; j + 4 <= j1; j += 4) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) Tiles::template SwiTile<4, 2>(x, i, k, gate, up, j, n, out);
    for (; i < m; ++i) Tiles::template SwiTile<4, 1>(x, i, k, gate, up, j, n, out);
  }
  for (; j < j1; ++j)
    for (int64_t i = 0; i < m; ++i) Tiles::template SwiTile<1, 1>(x, i, k, gate, up, j, n, out);
}

// Blocks of 4 columns split over the thread pool, at least ~16K weights per thread.
inline int64_t ColBlockGrain(int64_t k) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1)); }

template <typename Tiles>
void RunTiles(const float* x, int64_t m, int64_t k, const void* w, int64_t n, const float* bias,
              float* y) {
  ThreadPool::Global().ParallelFor((n + 3) / 4, ColBlockGrain(k), [&](int64_t b0, int64_t b1) {
    TileCols<Tiles>(x, m, k, w, n, bias, y, b0 * 4, std::min(n, b1 * 4));
  });
}

}  // namespace dsvl2::kernels::cpu
