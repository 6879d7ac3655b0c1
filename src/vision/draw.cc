#include "vision/draw.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>

#include "vision/font.h"

namespace dsvl2 {
namespace {

// BOX2COLOR from the official demo (deepseek_vl2/serve/app_modules/utils.py).
constexpr Rgb8 kPalette[kGroundingPaletteSize] = {
    {255, 0, 0},     {0, 255, 0},     {0, 0, 255},     {0, 255, 255},   {255, 255, 0},
    {255, 0, 255},   {127, 127, 127}, {255, 255, 127}, {255, 127, 255}, {127, 255, 255},
    {127, 127, 255}, {127, 255, 127}, {255, 127, 127},
};

constexpr int kMaxScale = 64;

// Inclusive fill in 64-bit coordinates so that callers can add offsets without overflow.
void Fill64(RgbImageRef img, int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb8 c) {
  if (!img.valid()) return;
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  x0 = std::max<int64_t>(x0, 0);
  y0 = std::max<int64_t>(y0, 0);
  x1 = std::min<int64_t>(x1, img.width - 1);
  y1 = std::min<int64_t>(y1, img.height - 1);
  if (x0 > x1 || y0 > y1) return;
  for (int64_t y = y0; y <= y1; ++y) {
    uint8_t* p =
        img.rgb +
        (static_cast<size_t>(y) * static_cast<size_t>(img.width) + static_cast<size_t>(x0)) * 3;
    for (int64_t x = x0; x <= x1; ++x, p += 3) {
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
    }
  }
}

void Outline64(RgbImageRef img, int64_t x0, int64_t y0, int64_t x1, int64_t y1, int64_t t, Rgb8 c) {
  if (t < 1) return;
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  Fill64(img, x0, y0, x1, std::min(y0 + t - 1, y1), c);  // top
  Fill64(img, x0, std::max(y1 - t + 1, y0), x1, y1, c);  // bottom
  Fill64(img, x0, y0, std::min(x0 + t - 1, x1), y1, c);  // left
  Fill64(img, std::max(x1 - t + 1, x0), y0, x1, y1, c);  // right
}

uint32_t DisplayCodepoint(uint32_t cp) {
  return (cp == '\t' || cp == '\n' || cp == '\r') ? uint32_t{' '} : cp;
}

}  // namespace

Rgb8 GroundingColor(size_t box_index) { return kPalette[box_index % kGroundingPaletteSize]; }

void FillRect(RgbImageRef image, int x0, int y0, int x1, int y1, Rgb8 color) {
  Fill64(image, x0, y0, x1, y1, color);
}

void DrawRectOutline(RgbImageRef image, int x0, int y0, int x1, int y1, int thickness, Rgb8 color) {
  Outline64(image, x0, y0, x1, y1, thickness, color);
}

int TextWidth(std::string_view utf8, int scale) {
  scale = std::clamp(scale, 1, kMaxScale);
  const int64_t n = static_cast<int64_t>(DecodeUtf8Lenient(utf8).size());
  return static_cast<int>(std::min<int64_t>(n * kFontAdvance * scale, INT_MAX));
}

int TextHeight(int scale) { return kFontGlyphHeight * std::clamp(scale, 1, kMaxScale); }

void DrawText(RgbImageRef image, int x, int y, std::string_view utf8, Rgb8 color, int scale) {
  if (!image.valid()) return;
  scale = std::clamp(scale, 1, kMaxScale);
  const int64_t advance = static_cast<int64_t>(kFontAdvance) * scale;
  // Only decode as many code points as can reach the image.
  const int64_t visible =
      (static_cast<int64_t>(image.width) - std::min<int64_t>(x, 0)) / advance + 2;
  if (static_cast<int64_t>(y) + TextHeight(scale) <= 0 || y >= image.height) return;
  int64_t gx = x;
  for (uint32_t cp : DecodeUtf8Lenient(utf8, static_cast<size_t>(std::max<int64_t>(visible, 0)))) {
    if (gx >= image.width) break;
    if (gx + advance > 0) {
      const FontGlyph& g = GetFontGlyph(DisplayCodepoint(cp));
      for (int row = 0; row < kFontGlyphHeight; ++row) {
        for (int col = 0; col < kFontGlyphWidth; ++col) {
          if (!g.On(col, row)) continue;
          const int64_t px = gx + static_cast<int64_t>(col) * scale;
          const int64_t py = static_cast<int64_t>(y) + static_cast<int64_t>(row) * scale;
          Fill64(image, px, py, px + scale - 1, py + scale - 1, color);
        }
      }
    }
    gx += advance;
  }
}

void DrawGroundingBoxes(RgbImageRef image, const std::vector<GroundingBox>& boxes,
                        const DrawGroundingOptions& options) {
  if (!image.valid()) return;
  const int scale = std::clamp(options.font_scale, 1, kMaxScale);
  size_t drawn = 0;
  for (const GroundingBox& box : boxes) {
    if (options.image_index >= 0 && box.image_index != options.image_index) continue;
    const Rgb8 color = GroundingColor(drawn++);
    const int x1 = GroundingCoordToPixel(box.raw_x1, image.width);
    const int y1 = GroundingCoordToPixel(box.raw_y1, image.height);
    const int x2 = GroundingCoordToPixel(box.raw_x2, image.width);
    const int y2 = GroundingCoordToPixel(box.raw_y2, image.height);
    Outline64(image, x1, y1, x2, y2, options.line_width, color);
    if (!options.draw_labels || box.label.empty()) continue;
    const int64_t tw = TextWidth(box.label, scale);
    const int64_t th = TextHeight(scale);
    const int64_t lx =
        std::clamp<int64_t>(std::min(x1, x2), 0, std::max<int64_t>(0, image.width - tw));
    const int64_t ly =
        std::clamp<int64_t>(static_cast<int64_t>(std::min(y1, y2)) - options.label_offset, 0,
                            std::max<int64_t>(0, image.height - th));
    DrawText(image, static_cast<int>(lx), static_cast<int>(ly), box.label, color, scale);
  }
}

std::vector<uint8_t> RenderGroundingBoxes(int width, int height, const uint8_t* rgb,
                                          const std::vector<GroundingBox>& boxes,
                                          const DrawGroundingOptions& options) {
  if (width <= 0 || height <= 0 || rgb == nullptr) return {};
  const uint64_t bytes = static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3;
  if (bytes > static_cast<uint64_t>(SIZE_MAX / 2)) return {};
  std::vector<uint8_t> out;
  try {
    out.assign(rgb, rgb + bytes);
  } catch (const std::bad_alloc&) {
    return {};
  }
  DrawGroundingBoxes(RgbImageRef{width, height, out.data()}, boxes, options);
  return out;
}

}  // namespace dsvl2
