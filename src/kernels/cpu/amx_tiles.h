// AMX tile configuration shared by the AMX translation units (compiled with -mamx-tile).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsvl2::kernels::cpu {

// The 64-byte LDTILECFG operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// All 8 tiles 16 rows x 64 bytes, on the calling thread (zeroes every tile; per-thread state).
inline void ConfigureFullTiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace dsvl2::kernels::cpu
