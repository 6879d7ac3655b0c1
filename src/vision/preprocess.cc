// DeepseekVLV2Processor image path (processing_deepseek_vl_v2.py: select_best_resolution,
// tokenize_with_images) on top of Pillow-exact resizing. See preprocess.h.
#include "vision/preprocess.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "vision/resample.h"

namespace dsvl2 {

std::pair<int, int> SelectBestResolution(int width, int height,
                                         const std::vector<std::pair<int, int>>& candidates) {
  std::pair<int, int> best{0, 0};
  if (width <= 0 || height <= 0) return best;
  const double ow = width, oh = height;
  const int64_t original_area = int64_t(width) * height;
  int64_t max_effective = 0;
  double min_wasted = std::numeric_limits<double>::infinity();  // float("inf")
  for (const auto& [cw, ch] : candidates) {
    const double scale = std::min(double(cw) / ow, double(ch) / oh);
    // int() truncates toward zero; both products are finite and non-negative for sane input.
    const int64_t dw = int64_t(ow * scale), dh = int64_t(oh * scale);
    const int64_t effective = std::min(dw * dh, original_area);
    const int64_t wasted = int64_t(cw) * ch - effective;
    if (effective > max_effective || (effective == max_effective && double(wasted) < min_wasted)) {
      max_effective = effective;
      min_wasted = double(wasted);
      best = {cw, ch};
    }
  }
  return best;
}

int64_t RoundHalfEven(double x) {
  const double f = std::floor(x);
  const double diff = x - f;
  int64_t r = int64_t(f);
  if (diff > 0.5 || (diff == 0.5 && (r % 2) != 0)) ++r;
  return r;
}

namespace {

// Copies src into dst at (x0, y0); both RGB8. The caller guarantees it fits.
void Paste(const Image& src, int x0, int y0, Image* dst) {
  const size_t row = size_t(src.width) * 3;
  for (int y = 0; y < src.height; ++y) {
    std::memcpy(dst->rgb.data() + (size_t(y0 + y) * dst->width + x0) * 3,
                src.rgb.data() + size_t(y) * row, row);
  }
}

// Writes the S x S window at (x0, y0) of an RGB8 image as CHW planes, zero outside the image.
void CropToChw(const Image& img, int x0, int y0, int s, uint8_t* out) {
  const size_t plane = size_t(s) * s;
  std::memset(out, 0, plane * 3);
  for (int y = 0; y < s; ++y) {
    const int sy = y0 + y;
    if (sy < 0 || sy >= img.height) continue;
    for (int x = 0; x < s; ++x) {
      const int sx = x0 + x;
      if (sx < 0 || sx >= img.width) continue;
      const uint8_t* p = img.rgb.data() + (size_t(sy) * img.width + sx) * 3;
      const size_t o = size_t(y) * s + x;
      out[o] = p[0];
      out[plane + o] = p[1];
      out[2 * plane + o] = p[2];
    }
  }
}

}  // namespace

Image PadImage(const Image& image, int width, int height, uint8_t fill) {
  if (width <= 0 || height <= 0 || image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != size_t(image.width) * size_t(image.height) * 3) {
    return Image();
  }
  // ImageOps.contain
  int new_w = width, new_h = height;
  const double im_ratio = double(image.width) / image.height;
  const double dest_ratio = double(width) / height;
  if (im_ratio != dest_ratio) {
    if (im_ratio > dest_ratio) {
      const int64_t h = RoundHalfEven(double(image.height) / image.width * width);
      if (h != height) new_h = int(std::max<int64_t>(h, 1));  // official: ValueError at 0
    } else {
      const int64_t w = RoundHalfEven(double(image.width) / image.height * height);
      if (w != width) new_w = int(std::max<int64_t>(w, 1));
    }
  }
  Image resized = ResizeBicubic(image, new_w, new_h);
  if (new_w == width && new_h == height) return resized;
  // ImageOps.pad: fill the canvas, paste centred (centering 0.5, banker's rounding).
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.assign(size_t(width) * height * 3, fill);
  if (new_w != width) {
    Paste(resized, int(RoundHalfEven((width - new_w) * 0.5)), 0, &out);
  } else {
    Paste(resized, 0, int(RoundHalfEven((height - new_h) * 0.5)), &out);
  }
  return out;
}

ImageTiles MakeTiles(const Image& image, const std::vector<std::pair<int, int>>& candidates,
                     int tile_size, bool cropping) {
  ImageTiles tiles;
  if (tile_size <= 0 || image.width <= 0 || image.height <= 0) return tiles;
  std::pair<int, int> best{tile_size, tile_size};
  if (cropping) {
    best = SelectBestResolution(image.width, image.height, candidates);
    if (best.first <= 0 || best.second <= 0) best = {tile_size, tile_size};
  }
  // The processor's image_transform mean (0.5) gives color tuple(int(0.5 * 255)) = 127.
  constexpr uint8_t kFill = 127;
  const Image global = PadImage(image, tile_size, tile_size, kFill);
  const Image local = PadImage(image, best.first, best.second, kFill);
  if (global.rgb.empty() || local.rgb.empty()) return tiles;

  // for i in range(0, best_height, S): for j in range(0, best_width, S): crop((j, i, j+S, i+S))
  tiles.tile_size = tile_size;
  tiles.tiles_w = (best.first + tile_size - 1) / tile_size;
  tiles.tiles_h = (best.second + tile_size - 1) / tile_size;
  const size_t tile_bytes = size_t(3) * tile_size * tile_size;
  tiles.tiles_u8.resize(tile_bytes * tiles.num_tiles());
  uint8_t* out = tiles.tiles_u8.data();
  CropToChw(global, 0, 0, tile_size, out);
  out += tile_bytes;
  for (int ty = 0; ty < tiles.tiles_h; ++ty) {
    for (int tx = 0; tx < tiles.tiles_w; ++tx, out += tile_bytes) {
      CropToChw(local, tx * tile_size, ty * tile_size, tile_size, out);
    }
  }
  return tiles;
}

void TilesToFloat(const uint8_t* u8, size_t n, float* out) {
  // 256 possible inputs: tabulate the exact float32 expression once.
  static const auto kTable = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) t[size_t(v)] = (float(v) / 255.0f - 0.5f) / 0.5f;
    return t;
  }();
  for (size_t i = 0; i < n; ++i) out[i] = kTable[u8[i]];
}

}  // namespace dsvl2
