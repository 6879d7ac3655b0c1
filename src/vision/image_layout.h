// Image-token layout for tile_tag "2D", global_view_pos "head" (official prepare_inputs_embeds):
// the global view's side×side grid with `image_newline` after every row, then `view_seperator`,
// then the local tiles as one (side*th)×(side*tw) grid (rows span all tiles horizontally) with a
// newline after every row.
#pragma once

#include <cstdint>

#include "base/tensor.h"

namespace dsvl2 {

// Number of embedding rows one image contributes: side*(side+1) + 1 + side*th*(side*tw+1).
int64_t ImageLayoutRows(int side, int tiles_w, int tiles_h);

// tiles: [1 + tw*th, side*side, D] projector output of one image (global first, locals row-major).
// Writes ImageLayoutRows(...) rows of width D to out.
void LayoutImageTokens(const float* tiles, int side, int64_t d, int tiles_w, int tiles_h,
                       const float* image_newline, const float* view_separator, float* out);

}  // namespace dsvl2
