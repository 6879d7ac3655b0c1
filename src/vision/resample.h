// Pillow-exact BICUBIC resize of RGB8 images: `Image.resize((w, h), Image.BICUBIC)` of Pillow
// (src/libImaging/Resample.c, 8 bits per channel), bit for bit. See resample.cc for the details
// replicated. The official processor resizes only through ImageOps.pad (preprocess.h).
#pragma once

#include "io/image.h"

namespace dsvl2 {

// Resizes `src` (RGB8, non-empty) to out_width x out_height (both > 0). Same size is a copy, as
// in Pillow. Returns an empty Image for non-positive sizes or an empty/inconsistent source.
Image ResizeBicubic(const Image& src, int out_width, int out_height);

}  // namespace dsvl2
