// Drawing grounding boxes on RGB8 images, following the official demo (spec §7.3): rectangle
// outline of width 3 drawn inward from the box edges (PIL ImageDraw.rectangle semantics, both
// corners inclusive), the 13-colour cycle indexed by box order, and the label at (x1, y1 - 20) in
// the same colour. The label uses the embedded bitmap font (font.h) scaled 2x (18 px high) instead
// of simsun.ttc; characters outside printable ASCII are drawn as hollow boxes.
//
// Images are plain RGB8 row-major buffers (stride 3 * width); this works directly with
// io/image.h's Image::rgb. Everything is clipped to the image: boxes partly or fully outside,
// zero-size boxes and empty images are fine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "vision/grounding.h"

namespace dsvl2 {

// A mutable view of an RGB8 image; rgb holds width * height * 3 bytes.
struct RgbImageRef {
  int width = 0;
  int height = 0;
  uint8_t* rgb = nullptr;
  bool valid() const { return width > 0 && height > 0 && rgb != nullptr; }
};

struct Rgb8 {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb8&, const Rgb8&) = default;
};

inline constexpr int kGroundingPaletteSize = 13;
// BOX2COLOR of the official demo, cycled by box index: GroundingColor(i % 13).
Rgb8 GroundingColor(size_t box_index);

// Fills [x0, x1] x [y0, y1] (inclusive; corners in any order), clipped.
void FillRect(RgbImageRef image, int x0, int y0, int x1, int y1, Rgb8 color);
// Rectangle outline between the inclusive corners, `thickness` pixels wide, growing inward.
// A box thinner than 2 * thickness comes out filled, as in PIL.
void DrawRectOutline(RgbImageRef image, int x0, int y0, int x1, int y1, int thickness, Rgb8 color);

// Label text metrics for DrawText at `scale` (>= 1) for a UTF-8 string.
int TextWidth(std::string_view utf8, int scale);
int TextHeight(int scale);
// Draws a single line of UTF-8 text with its top-left at (x, y), clipped. Tabs and newlines are
// drawn as spaces. Stops once it has run past the right edge of the image.
void DrawText(RgbImageRef image, int x, int y, std::string_view utf8, Rgb8 color, int scale);

struct DrawGroundingOptions {
  int line_width = 3;     // official: 3
  int font_scale = 2;     // 5x9 font -> 10x18 glyphs, close to simsun size 20
  int label_offset = 20;  // label top-left at (x1, y1 - label_offset), official: 20
  bool draw_labels = true;
  int image_index = -1;  // >= 0: only boxes with this image_index; -1: all boxes
};

// Draws `boxes` in place. Pixel corners are recomputed from the raw 0..999 coordinates for this
// image's size (int(v / 999 * W) and int(v / 999 * H)), so the boxes fit whatever image they are
// drawn on. Box i (among those drawn) gets colour GroundingColor(i). The label's top-left is
// clamped so the label stays inside the image when it fits.
void DrawGroundingBoxes(RgbImageRef image, const std::vector<GroundingBox>& boxes,
                        const DrawGroundingOptions& options = {});

// Copies the width x height RGB8 image and draws on the copy; an empty vector if the size is not
// positive, the pixels are null, or the size overflows.
std::vector<uint8_t> RenderGroundingBoxes(int width, int height, const uint8_t* rgb,
                                          const std::vector<GroundingBox>& boxes,
                                          const DrawGroundingOptions& options = {});

}  // namespace dsvl2
