#include "vision/draw.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include <png.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "io/png_write.h"
#include "vision/font.h"
#include "vision/grounding.h"

namespace dsvl2 {

// gtest finds this by ADL (it must live in Rgb8's namespace, not the anonymous one).
std::ostream& operator<<(std::ostream& os, const Rgb8& c) {
  return os << "(" << int(c.r) << "," << int(c.g) << "," << int(c.b) << ")";
}

namespace {

constexpr int kW = 200;
constexpr int kH = 100;
constexpr Rgb8 kBackground{50, 60, 70};

std::vector<uint8_t> Synthetic(int w = kW, int h = kH) {
  std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < img.size(); i += 3) {
    img[i] = kBackground.r;
    img[i + 1] = kBackground.g;
    img[i + 2] = kBackground.b;
  }
  return img;
}

Rgb8 At(const std::vector<uint8_t>& img, int x, int y, int w = kW) {
  const size_t i = (static_cast<size_t>(y) * w + x) * 3;
  return Rgb8{img[i], img[i + 1], img[i + 2]};
}

int CountColor(const std::vector<uint8_t>& img, int x0, int y0, int x1, int y1, Rgb8 c,
               int w = kW) {
  int n = 0;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) n += At(img, x, y, w) == c;
  }
  return n;
}

GroundingBox Box(const std::string& label, int x1, int y1, int x2, int y2, int image_index = 0) {
  GroundingBox b;
  b.label = label;
  b.image_index = image_index;
  b.raw_x1 = x1;
  b.raw_y1 = y1;
  b.raw_x2 = x2;
  b.raw_y2 = y2;
  return b;
}

TEST(DrawTest, Palette) {
  EXPECT_EQ(GroundingColor(0), (Rgb8{255, 0, 0}));
  EXPECT_EQ(GroundingColor(1), (Rgb8{0, 255, 0}));
  EXPECT_EQ(GroundingColor(6), (Rgb8{127, 127, 127}));
  EXPECT_EQ(GroundingColor(12), (Rgb8{255, 127, 127}));
  EXPECT_EQ(GroundingColor(13), GroundingColor(0));
  EXPECT_EQ(GroundingColor(27), GroundingColor(1));
}

TEST(DrawTest, RectangleEdgesAndInterior) {
  const std::vector<uint8_t> src = Synthetic();
  // 250 -> x 50, 750 -> x 150, 300 -> y 30, 700 -> y 70 on a 200x100 image.
  std::vector<GroundingBox> boxes = {Box("", 250, 300, 750, 700)};
  std::vector<uint8_t> out = RenderGroundingBoxes(kW, kH, src.data(), boxes);
  ASSERT_EQ(out.size(), src.size());
  EXPECT_EQ(src, Synthetic());  // the input is not modified
  const Rgb8 red{255, 0, 0};
  // Left band x = 50..52, right band 148..150, top y = 30..32, bottom 68..70.
  for (int x : {50, 51, 52, 148, 149, 150}) EXPECT_EQ(At(out, x, 50), red) << x;
  for (int y : {30, 31, 32, 68, 69, 70}) EXPECT_EQ(At(out, 100, y), red) << y;
  EXPECT_EQ(At(out, 50, 30), red);  // corners
  EXPECT_EQ(At(out, 150, 70), red);
  EXPECT_EQ(At(out, 53, 50), kBackground);  // just inside
  EXPECT_EQ(At(out, 147, 50), kBackground);
  EXPECT_EQ(At(out, 100, 33), kBackground);
  EXPECT_EQ(At(out, 100, 67), kBackground);
  EXPECT_EQ(At(out, 100, 50), kBackground);  // centre
  EXPECT_EQ(At(out, 49, 50), kBackground);   // just outside
  EXPECT_EQ(At(out, 151, 50), kBackground);
  EXPECT_EQ(At(out, 100, 29), kBackground);
  EXPECT_EQ(At(out, 100, 71), kBackground);
  // Exactly the outline changed: perimeter of a 101x41 box, 3 px wide.
  const int outline = 101 * 41 - 95 * 35;
  EXPECT_EQ(CountColor(out, 0, 0, kW, kH, red), outline);
}

TEST(DrawTest, LabelDrawnAboveBoxInSameColour) {
  const std::vector<uint8_t> src = Synthetic();
  // Second box (green) with label "A" at (50, 30 - 20) = (50, 10), font 2x.
  std::vector<GroundingBox> boxes = {Box("", 0, 0, 10, 10), Box("A", 250, 300, 750, 700)};
  std::vector<uint8_t> out = RenderGroundingBoxes(kW, kH, src.data(), boxes);
  const Rgb8 green{0, 255, 0};
  // 'A' row 0 is ".###.": glyph column 0 blank, columns 1..3 on, each 2x2 pixels.
  EXPECT_EQ(At(out, 50, 10), kBackground);
  EXPECT_EQ(At(out, 52, 10), green);
  EXPECT_EQ(At(out, 53, 11), green);
  EXPECT_EQ(At(out, 57, 10), green);
  EXPECT_EQ(At(out, 58, 10), kBackground);
  // Row 3 is "#####" -> y 16..17, x 50..59.
  for (int x = 50; x < 60; ++x) EXPECT_EQ(At(out, x, 16), green) << x;
  EXPECT_GT(CountColor(out, 50, 10, 62, 28, green), 40);
  EXPECT_EQ(CountColor(out, 62, 0, kW, 29, green), 0);  // nothing right of the label
}

TEST(DrawTest, LabelClampedInsideImage) {
  const std::vector<uint8_t> src = Synthetic();
  // Box at the bottom-right corner: 900 -> (180, 90), 999 -> (200, 100) = off-image edge.
  std::vector<GroundingBox> boxes = {Box("edge", 900, 900, 999, 999), Box("top", 100, 0, 400, 400)};
  std::vector<uint8_t> out = RenderGroundingBoxes(kW, kH, src.data(), boxes);
  const Rgb8 red{255, 0, 0}, green{0, 255, 0};
  // Visible parts of the first box: left band 180..182, top band 90..92, clipped at 199/99.
  EXPECT_EQ(At(out, 180, 95), red);
  EXPECT_EQ(At(out, 182, 95), red);
  EXPECT_EQ(At(out, 190, 90), red);
  EXPECT_EQ(At(out, 199, 99), red);
  EXPECT_EQ(At(out, 198, 95), red);  // right band 198..200 partly visible
  EXPECT_EQ(At(out, 190, 95), kBackground);
  // "edge" is 4 glyphs * 12 px = 48 px wide: x clamped to 200 - 48 = 152, y = 90 - 20 = 70.
  EXPECT_GT(CountColor(out, 152, 70, 200, 88, red), 30);
  EXPECT_EQ(CountColor(out, 0, 0, 152, 88, red), 0);
  // Second box starts at y 0: its label is clamped to y 0 instead of -20.
  // (Its outline is at x 20..22 and y 0..2; count strictly inside it.)
  EXPECT_GT(CountColor(out, 23, 3, 56, 18, green), 20);
}

TEST(DrawTest, ZeroSizeAndDegenerateBoxes) {
  const std::vector<uint8_t> src = Synthetic();
  std::vector<GroundingBox> boxes = {Box("", 500, 500, 500, 500)};  // one pixel at (100, 50)
  std::vector<uint8_t> out = RenderGroundingBoxes(kW, kH, src.data(), boxes);
  EXPECT_EQ(At(out, 100, 50), (Rgb8{255, 0, 0}));
  EXPECT_EQ(CountColor(out, 0, 0, kW, kH, Rgb8{255, 0, 0}), 1);

  // Out-of-range raw coordinates (hand-built boxes) are clamped, never crash.
  boxes = {Box("x", -100000, INT_MIN, INT_MAX, 5000), Box("y", 999, 999, 0, 0)};
  out = RenderGroundingBoxes(kW, kH, src.data(), boxes);
  EXPECT_EQ(out.size(), src.size());
}

TEST(DrawTest, PrimitivesClipAndSurviveExtremes) {
  std::vector<uint8_t> img = Synthetic();
  RgbImageRef ref{kW, kH, img.data()};
  const Rgb8 c{1, 2, 3};
  DrawRectOutline(ref, -100, -100, 1000, 1000, 3, c);  // all edges off-image
  EXPECT_EQ(img, Synthetic());
  DrawRectOutline(ref, -5, -5, 10, 10, 3, c);  // only bottom and right bands visible
  EXPECT_EQ(At(img, 8, 0), c);
  EXPECT_EQ(At(img, 0, 10), c);
  EXPECT_EQ(At(img, 7, 7), kBackground);
  DrawRectOutline(ref, -10, -10, 300, 300, INT_MAX, c);  // thicker than the box: filled
  EXPECT_EQ(CountColor(img, 0, 0, kW, kH, c), kW * kH);
  DrawRectOutline(ref, INT_MIN, INT_MIN, INT_MAX, INT_MAX, INT_MAX, kBackground);  // no overflow
  FillRect(ref, INT_MAX, INT_MAX, INT_MIN, INT_MIN, kBackground);
  EXPECT_EQ(img, Synthetic());
  DrawText(ref, INT_MIN, INT_MAX, "abc", c, 1000);
  DrawText(ref, INT_MAX, -5, std::string(100000, 'x'), c, -3);
  DrawText(ref, -20, 0, std::string(1 << 20, 'W'), c, 2);
  // Invalid images are ignored.
  DrawGroundingBoxes(RgbImageRef{0, 0, nullptr}, {Box("a", 0, 0, 999, 999)});
  DrawGroundingBoxes(RgbImageRef{-3, 7, img.data()}, {Box("a", 0, 0, 999, 999)});
  EXPECT_TRUE(RenderGroundingBoxes(0, 10, img.data(), {}).empty());
  EXPECT_TRUE(RenderGroundingBoxes(10, 10, nullptr, {}).empty());
}

TEST(DrawTest, ImageIndexFilterAndTinyImages) {
  const std::vector<uint8_t> src = Synthetic();
  std::vector<GroundingBox> boxes = {Box("a", 250, 300, 750, 700, /*image_index=*/1)};
  DrawGroundingOptions opt;
  opt.image_index = 0;
  EXPECT_EQ(RenderGroundingBoxes(kW, kH, src.data(), boxes, opt), src);
  opt.image_index = 1;
  EXPECT_NE(RenderGroundingBoxes(kW, kH, src.data(), boxes, opt), src);
  // 1x1 image.
  const uint8_t pixel[3] = {9, 9, 9};
  std::vector<uint8_t> one = RenderGroundingBoxes(1, 1, pixel, {Box("long label", 0, 0, 999, 999)});
  ASSERT_EQ(one.size(), 3u);
  EXPECT_EQ(one[0], 255);
}

TEST(DrawTest, FontAndUtf8) {
  EXPECT_TRUE(FontHasGlyph('A'));
  EXPECT_TRUE(FontHasGlyph('~'));
  EXPECT_FALSE(FontHasGlyph(0xE9));
  EXPECT_FALSE(FontHasGlyph('\n'));
  EXPECT_TRUE(GetFontGlyph('A').On(1, 0));
  EXPECT_FALSE(GetFontGlyph('A').On(0, 0));
  EXPECT_FALSE(GetFontGlyph('A').On(-1, 99));
  EXPECT_EQ(&GetFontGlyph(0x6DE1), &MissingGlyph());
  // Every printable glyph except space has ink; space has none.
  for (uint32_t c = 0x21; c <= 0x7E; ++c) {
    int ink = 0;
    for (int y = 0; y < kFontGlyphHeight; ++y)
      for (int x = 0; x < kFontGlyphWidth; ++x) ink += GetFontGlyph(c).On(x, y);
    EXPECT_GT(ink, 0) << char(c);
  }

  std::vector<uint32_t> cps = DecodeUtf8Lenient("a\xff\xe6\xb7\xa1\xe6\xb7");
  ASSERT_EQ(cps.size(), 5u);
  EXPECT_EQ(cps[0], 'a');
  EXPECT_EQ(cps[1], 0xFFFDu);
  EXPECT_EQ(cps[2], 0x6DE1u);  // 淡
  EXPECT_EQ(cps[3], 0xFFFDu);  // truncated sequence: one replacement per byte
  EXPECT_EQ(cps[4], 0xFFFDu);
  EXPECT_EQ(DecodeUtf8Lenient("\xc0\x80").size(), 2u);  // overlong
  EXPECT_EQ(DecodeUtf8Lenient("abcdef", 3).size(), 3u);
  EXPECT_EQ(TextWidth("淡定", 2), 2 * kFontAdvance * 2);

  // A non-ASCII character is drawn as a hollow box.
  std::vector<uint8_t> img = Synthetic(10, 12);
  DrawText(RgbImageRef{10, 12, img.data()}, 0, 0, "é", Rgb8{7, 7, 7}, 1);
  for (int x = 0; x < 5; ++x) EXPECT_EQ(At(img, x, 0, 10), (Rgb8{7, 7, 7})) << x;
  EXPECT_EQ(At(img, 0, 3, 10), (Rgb8{7, 7, 7}));
  EXPECT_EQ(At(img, 2, 3, 10), kBackground);
  EXPECT_EQ(At(img, 5, 0, 10), kBackground);
}

// Decodes a PNG (file or memory) to RGB8 with libpng's simplified API.
std::vector<uint8_t> DecodeRgb(png_image* image) {
  image->format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(*image));
  if (!png_image_finish_read(image, nullptr, pixels.data(), 0, nullptr)) {
    ADD_FAILURE() << image->message;
    return {};
  }
  return pixels;
}

TEST(DrawTest, PngRoundTripFileAndMemory) {
  std::vector<uint8_t> src = Synthetic();
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(src[i] + i * 7);  // texture
  std::vector<GroundingBox> boxes = {Box("giraffe", 250, 300, 750, 700), Box("b", 0, 0, 999, 999)};
  const std::vector<uint8_t> drawn = RenderGroundingBoxes(kW, kH, src.data(), boxes);

  const std::string path = testing::MakeTempDir() + "/boxes.png";
  Status st = WritePng(path, kW, kH, drawn.data());
  ASSERT_TRUE(st.ok()) << st.message();
  png_image file_image;
  std::memset(&file_image, 0, sizeof(file_image));
  file_image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_file(&file_image, path.c_str())) << file_image.message;
  EXPECT_EQ(file_image.width, static_cast<png_uint_32>(kW));
  EXPECT_EQ(file_image.height, static_cast<png_uint_32>(kH));
  EXPECT_EQ(DecodeRgb(&file_image), drawn);

  StatusOr<std::vector<uint8_t>> mem = EncodePng(kW, kH, drawn.data());
  ASSERT_TRUE(mem.ok()) << mem.status().message();
  ASSERT_GT(mem->size(), 8u);
  EXPECT_EQ(std::memcmp(mem->data(), "\x89PNG\r\n\x1a\n", 8), 0);
  png_image mem_image;
  std::memset(&mem_image, 0, sizeof(mem_image));
  mem_image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&mem_image, mem->data(), mem->size()));
  EXPECT_EQ(DecodeRgb(&mem_image), drawn);

  // Compression level 0 and 9 both round-trip.
  for (int level : {0, 9, 42}) {
    StatusOr<std::vector<uint8_t>> m = EncodePng(kW, kH, drawn.data(), PngWriteOptions{level});
    ASSERT_TRUE(m.ok());
    png_image im;
    std::memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    ASSERT_TRUE(png_image_begin_read_from_memory(&im, m->data(), m->size()));
    EXPECT_EQ(DecodeRgb(&im), drawn);
  }
}

TEST(DrawTest, PngErrorsAreStatuses) {
  const std::vector<uint8_t> src = Synthetic();
  EXPECT_FALSE(EncodePng(0, 10, src.data()).ok());
  EXPECT_FALSE(EncodePng(10, -1, src.data()).ok());
  EXPECT_FALSE(EncodePng(10, 10, nullptr).ok());
  Status st = WritePng(testing::MakeTempDir() + "/no/such/dir/x.png", kW, kH, src.data());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("cannot open"), std::string::npos) << st.message();
  EXPECT_FALSE(WritePng("", kW, kH, src.data()).ok());
  // Wider than libpng's default limit of 1,000,000 columns: libpng reports an error through
  // longjmp, which must come back as a Status.
  const int wide = 1000001;
  std::vector<uint8_t> row(static_cast<size_t>(wide) * 3, 0);
  StatusOr<std::vector<uint8_t>> r = EncodePng(wide, 1, row.data());
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("libpng"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace dsvl2
