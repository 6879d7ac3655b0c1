// Image-token layout for tile_tag "2D", global_view_pos "head" (official prepare_inputs_embeds):
// the global view's side×side grid with `image_newline` after every row, then `view_seperator`,
// then the local tiles as one (side*th)×(side*tw) grid (rows span all tiles horizontally) with a
// newline after every row.
#pragma once

#include <cstdint>

#include "base/tensor.h"

namespace dsvl2 {

// tiles: [1 + tw*th, side*side, D] projector output of one image (global first, locals row-major).
// Writes side*(side+1) + 1 + side*th*(side*tw+1) rows of width D to out (the processor's
// image token count, ImageTokenCount in tokenizer/chat.h).
void LayoutImageTokens(const float* tiles, int side, int64_t d, int tiles_w, int tiles_h,
                       const float* image_newline, const float* view_separator, float* out);

}  // namespace dsvl2
