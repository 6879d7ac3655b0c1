#include "vision/image_layout.h"

#include <algorithm>

namespace dsvl2 {

void LayoutImageTokens(const float* tiles, int side, int64_t d, int tiles_w, int tiles_h,
                       const float* image_newline, const float* view_separator, float* out) {
  const int64_t per_tile = static_cast<int64_t>(side) * side * d;
  auto emit = [&](const float* v) {
    std::copy(v, v + d, out);
    out += d;
  };
  // Global view: [side, side, D] + newline column.
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) emit(tiles + (static_cast<int64_t>(r) * side + c) * d);
    emit(image_newline);
  }
  emit(view_separator);
  // Local views: cell (R, C) of the (side*th) x (side*tw) grid.
  const float* locals = tiles + per_tile;
  for (int R = 0; R < side * tiles_h; ++R) {
    for (int C = 0; C < side * tiles_w; ++C) {
      const int64_t tile = static_cast<int64_t>(R / side) * tiles_w + C / side;
      const int64_t idx = static_cast<int64_t>(R % side) * side + C % side;
      emit(locals + tile * per_tile + idx * d);
    }
    emit(image_newline);
  }
}

}  // namespace dsvl2
