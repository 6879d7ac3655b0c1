// Image preprocessing of the official DeepseekVLV2Processor (spec §4), pixel-exact:
//   best = select_best_resolution(size, candidate_resolutions) if cropping else (S, S)
//   global = ImageOps.pad(img, (S, S), BICUBIC, color=(127,127,127))
//   local  = ImageOps.pad(img, best, BICUBIC, color=(127,127,127)), cut into S x S tiles row-major
//   pixel  -> (x / 255 - 0.5) / 0.5 in float32 (torchvision ToTensor + Normalize)
// where S is the tile size (384) and cropping = (images in the whole conversation) <= 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "io/image.h"

namespace dsvl2 {

// The official select_best_resolution((width, height), candidates) with Python float semantics:
// for each (W, H) in order, s = min(W / w, H / h) in double; effective = min(int(w*s) * int(h*s),
// w*h); waste = W*H - effective; the first candidate with the largest effective area, ties broken
// by smaller waste, wins. Returns (best_width, best_height); (0, 0) when `candidates` is empty or
// the size is not positive (the official code would fail).
std::pair<int, int> SelectBestResolution(int width, int height,
                                         const std::vector<std::pair<int, int>>& candidates);

// Python's round() on a double: nearest integer, ties to even.
int64_t RoundHalfEven(double x);

// PIL ImageOps.pad(img, (width, height), method=BICUBIC, color=(fill, fill, fill),
// centering=(0.5, 0.5)) of Pillow 9.4 (ImageOps.contain, then paste on a filled canvas):
//   - aspect ratios w/h and W/H compared as doubles; if they differ, the side that does not fit
//     becomes round(h / w * W) (or round(w / h * H)), Python's banker's rounding;
//   - Pillow-exact bicubic resize (resample.h); paste offset round((W - new_w) * 0.5) (or y).
// Where the official code would fail because a side rounds to 0 pixels (aspect ratio beyond
// 2*W:1), that side is made 1 pixel instead. Returns an empty Image for invalid arguments.
Image PadImage(const Image& image, int width, int height, uint8_t fill = 127);

struct ImageTiles {
  int tiles_w = 0;  // local tiles across  (images_spatial_crop[0])
  int tiles_h = 0;  // local tiles down    (images_spatial_crop[1])
  int tile_size = 0;
  // [1 + tiles_w * tiles_h, 3, S, S] uint8, CHW: the global view first, then the local tiles
  // row-major (left to right, top to bottom).
  std::vector<uint8_t> tiles_u8;

  int num_tiles() const { return 1 + tiles_w * tiles_h; }
};

// All views of one image, exactly as the processor builds them. `cropping` is false when the
// conversation holds more than two images; then the local view is a single S x S tile.
// A best resolution that is not a multiple of S gives ceil(best / S) tiles per side, the part
// past the local view zero-filled (PIL crop semantics); official candidates are multiples of S.
// An empty image or non-positive tile_size gives empty tiles.
ImageTiles MakeTiles(const Image& image, const std::vector<std::pair<int, int>>& candidates,
                     int tile_size, bool cropping);

// out[i] = (u8[i] / 255.0f - 0.5f) / 0.5f in float32, as torchvision's
// ToTensor (x.float().div(255)) followed by Normalize(mean=0.5, std=0.5) computes it.
void TilesToFloat(const uint8_t* u8, size_t n, float* out);

}  // namespace dsvl2
