// AMX microbenchmark loops (kernels/microbench.h): TDPBF16PS and TDPBUSD on four independent
// accumulator tiles (the instruction's latency is several times its issue interval).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/peak.h"

namespace dsvl2::kernels::cpu {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

void Configure() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace

double PeakBf16Amx(int64_t iters) {
  // One TDPBF16PS: 16 x 16 outputs x 32 products = 8192 multiply-adds. Zero operands.
  Configure();
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float sink[256];
  _tile_stored(0, sink, 64);
  _tile_release();
  volatile float v = sink[0];
  (void)v;
  return static_cast<double>(iters) * 4 * 8192 * 2;
}

double PeakInt8Amx(int64_t iters) {
  // One TDPBUSD: 16 x 16 outputs x 64 products = 16384 multiply-adds.
  Configure();
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  alignas(64) int32_t sink[256];
  _tile_stored(0, sink, 64);
  _tile_release();
  volatile int32_t v = sink[0];
  (void)v;
  return static_cast<double>(iters) * 4 * 16384 * 2;
}

}  // namespace dsvl2::kernels::cpu
