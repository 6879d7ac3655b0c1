// AMX microbenchmark loops (kernels/microbench.h): TDPBF16PS and TDPBUSD on four independent
// accumulator tiles (the instruction's latency is several times its issue interval), with zero
// operand tiles.
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/peak.h"

namespace dsvl2::kernels::cpu {
namespace {

// Runs `four` (4 tile products into tiles 0..3 from 4..7) `iters` times on zeroed tiles.
template <typename Four>
void RunTiles(int64_t iters, Four four) {
  ConfigureFullTiles();  // loading the configuration zeroes every tile
  for (int64_t i = 0; i < iters; ++i) four();
  alignas(64) int32_t sink[256];
  _tile_stored(0, sink, 64);
  _tile_release();
  volatile int32_t v = sink[0];
  (void)v;
}

}  // namespace

double PeakBf16Amx(int64_t iters) {
  // One TDPBF16PS: 16 x 16 outputs x 32 products = 8192 multiply-adds.
  RunTiles(iters, [] {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  });
  return static_cast<double>(iters) * 4 * 8192 * 2;
}

double PeakInt8Amx(int64_t iters) {
  // One TDPBUSD: 16 x 16 outputs x 64 products = 16384 multiply-adds.
  RunTiles(iters, [] {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  });
  return static_cast<double>(iters) * 4 * 16384 * 2;
}

}  // namespace dsvl2::kernels::cpu
