// The loop shared by the SIMD matrix products: output columns in blocks of 4 split over the
// thread pool, each block computed for 2 input rows at a time by the ISA's micro-tile
// Tile<NJ, NI>(x, i0, k, w, j0, n, bias, y). Included by each ISA's translation unit, so the
// template is instantiated with that unit's instruction set.
#pragma once

#include <algorithm>
#include <cstdint>

#include "base/thread_pool.h"

namespace dsvl2::kernels::cpu {

template <typename Tiles>
void RunTiles(const float* x, int64_t m, int64_t k, const void* w, int64_t n, const float* bias,
              float* y) {
  const int64_t nblocks = (n + 3) / 4;
  ThreadPool::Global().ParallelFor(nblocks, std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1)),
                                   [&](int64_t b0, int64_t b1) {
                                     for (int64_t bj = b0; bj < b1; ++bj) {
                                       const int64_t j = bj * 4;
                                       if (j + 4 <= n) {
                                         int64_t i = 0;
                                         for (; i + 2 <= m; i += 2)
                                           Tiles::template Tile<4, 2>(x, i, k, w, j, n, bias, y);
                                         for (; i < m; ++i)
                                           Tiles::template Tile<4, 1>(x, i, k, w, j, n, bias, y);
                                       } else {
                                         for (int64_t jj = j; jj < n; ++jj)
                                           for (int64_t i = 0; i < m; ++i)
                                             Tiles::template Tile<1, 1>(x, i, k, w, jj, n, bias, y);
                                       }
                                     }
                                   });
}

}  // namespace dsvl2::kernels::cpu
