// Image decoding (io/image.h): every format, the Pillow convert("RGB") conversions (expected
// values were checked against Pillow 9.4), corrupt and truncated input, and the size limit.
// Test images are built in memory (tests/fuzz/image_samples.h).
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "fuzz/image_samples.h"
#include "io/image.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

using test_images::Bytes;

StatusOr<Image> Decode(const Bytes& b, const DecodeOptions& o = {}) {
  return DecodeImage(b.data(), b.size(), o);
}

// Decodes and expects success; returns the RGB bytes.
std::vector<uint8_t> Rgb(const Bytes& b, int w, int h) {
  auto r = Decode(b);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  EXPECT_EQ(r->width, w);
  EXPECT_EQ(r->height, h);
  EXPECT_EQ(r->rgb.size(), size_t(w) * h * 3);
  return r->rgb;
}

std::vector<uint8_t> Grey3(std::initializer_list<int> vals) {
  std::vector<uint8_t> out;
  for (int v : vals) out.insert(out.end(), 3, uint8_t(v));
  return out;
}

int MaxDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 999;
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

std::vector<uint8_t> DropAlpha(const Bytes& rgba) {
  std::vector<uint8_t> rgb;
  for (size_t i = 0; i + 3 < rgba.size(); i += 4) rgb.insert(rgb.end(), &rgba[i], &rgba[i] + 3);
  return rgb;
}

test_images::PngSpec Png(int w, int h, int color_type, int bit_depth,
                         std::vector<uint16_t> samples) {
  test_images::PngSpec s;
  s.width = w;
  s.height = h;
  s.color_type = color_type;
  s.bit_depth = bit_depth;
  s.samples = std::move(samples);
  return s;
}

// The PNG chunk CRC (ISO 3309), for patching headers.
uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

// ------------------------------------------------------------------------------------ PNG

TEST(PngDecode, RgbAndRgbaDropAlpha) {
  const Bytes rgb = test_images::Pattern(7, 5, 3, 1);
  EXPECT_EQ(Rgb(test_images::EncodePngRgb(7, 5, rgb.data()), 7, 5), rgb);
  const Bytes rgba = test_images::Pattern(7, 5, 4, 2);
  auto spec = Png(7, 5, PNG_COLOR_TYPE_RGB_ALPHA, 8, {rgba.begin(), rgba.end()});
  // Alpha is dropped, not composited: RGB survives even under alpha 0.
  spec.samples[3] = 0;
  EXPECT_EQ(Rgb(test_images::EncodePng(spec), 7, 5), DropAlpha(rgba));
}

TEST(PngDecode, GreyDepthsScaleLikePillow) {
  EXPECT_EQ(Rgb(test_images::EncodePng(Png(4, 1, PNG_COLOR_TYPE_GRAY, 1, {1, 0, 1, 1})), 4, 1),
            Grey3({255, 0, 255, 255}));
  EXPECT_EQ(Rgb(test_images::EncodePng(Png(4, 1, PNG_COLOR_TYPE_GRAY, 2, {0, 1, 2, 3})), 4, 1),
            Grey3({0, 85, 170, 255}));
  EXPECT_EQ(Rgb(test_images::EncodePng(Png(2, 1, PNG_COLOR_TYPE_GRAY, 4, {3, 12})), 2, 1),
            Grey3({51, 204}));
  EXPECT_EQ(Rgb(test_images::EncodePng(Png(2, 1, PNG_COLOR_TYPE_GRAY, 8, {5, 250})), 2, 1),
            Grey3({5, 250}));
  // Grey + alpha: alpha dropped.
  EXPECT_EQ(
      Rgb(test_images::EncodePng(Png(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {5, 0, 200, 128})), 2, 1),
      Grey3({5, 200}));
}

TEST(PngDecode, SixteenBit) {
  // Pillow opens 16-bit grey as mode "I" and convert("RGB") clips to 0..255.
  EXPECT_EQ(Rgb(test_images::EncodePng(Png(8, 1, PNG_COLOR_TYPE_GRAY, 16,
                                           {0, 200, 255, 256, 300, 0x1234, 65535, 0x00ff})),
                8, 1),
            Grey3({0, 200, 255, 255, 255, 255, 255, 255}));
  // Colour and grey+alpha keep the high byte ("RGB;16B", "LA;16B", "RGBA;16B").
  EXPECT_EQ(Rgb(test_images::EncodePng(Png(1, 1, PNG_COLOR_TYPE_RGB, 16, {0x1234, 0x56ff, 0xab01})),
                1, 1),
            (std::vector<uint8_t>{0x12, 0x56, 0xab}));
  EXPECT_EQ(Rgb(test_images::EncodePng(
                    Png(1, 1, PNG_COLOR_TYPE_RGB_ALPHA, 16, {0x1234, 0x56ff, 0xab01, 7})),
                1, 1),
            (std::vector<uint8_t>{0x12, 0x56, 0xab}));
  EXPECT_EQ(Rgb(test_images::EncodePng(
                    Png(2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 16, {0x1234, 0xffff, 0xabcd, 0})),
                2, 1),
            Grey3({0x12, 0xab}));
}

TEST(PngDecode, PaletteShortPaletteAndTrns) {
  auto spec = Png(6, 1, PNG_COLOR_TYPE_PALETTE, 8, {0, 1, 2, 3, 200, 255});
  spec.plte = {10, 20, 30, 40, 50, 60};
  spec.trns = {0, 0x80};  // ignored by convert("RGB")
  // Indices past the PLTE decode to (i, i, i): Pillow's default palette ramp.
  std::vector<uint8_t> want = {10, 20, 30, 40, 50, 60};
  const auto rest = Grey3({2, 3, 200, 255});
  want.insert(want.end(), rest.begin(), rest.end());
  EXPECT_EQ(Rgb(test_images::EncodePng(spec), 6, 1), want);
  auto low = Png(4, 1, PNG_COLOR_TYPE_PALETTE, 2, {0, 1, 2, 3});
  low.plte = {10, 20, 30, 40, 50, 60};
  want = {10, 20, 30, 40, 50, 60, 2, 2, 2, 3, 3, 3};
  EXPECT_EQ(Rgb(test_images::EncodePng(low), 4, 1), want);
}

TEST(PngDecode, TrnsOnGreyAndRgbIsIgnored) {
  auto grey = Png(2, 1, PNG_COLOR_TYPE_GRAY, 8, {5, 9});
  grey.trns = {0, 5};
  EXPECT_EQ(Rgb(test_images::EncodePng(grey), 2, 1), Grey3({5, 9}));
  auto rgb = Png(2, 1, PNG_COLOR_TYPE_RGB, 8, {5, 9, 1, 2, 3, 4});
  rgb.trns = {0, 5, 0, 9, 0, 1};
  EXPECT_EQ(Rgb(test_images::EncodePng(rgb), 2, 1), (std::vector<uint8_t>{5, 9, 1, 2, 3, 4}));
}

TEST(PngDecode, InterlacedEqualsNonInterlaced) {
  struct Case {
    int ct, bd, maxv;
  } cases[] = {{PNG_COLOR_TYPE_RGB, 8, 255},       {PNG_COLOR_TYPE_RGB, 16, 65535},
               {PNG_COLOR_TYPE_GRAY, 1, 1},        {PNG_COLOR_TYPE_PALETTE, 4, 15},
               {PNG_COLOR_TYPE_RGB_ALPHA, 8, 255}, {PNG_COLOR_TYPE_GRAY, 16, 65535}};
  std::mt19937 rng(3);
  for (const Case& c : cases) {
    for (auto [w, h] : {std::pair{1, 1}, {3, 2}, {9, 11}, {17, 5}}) {
      auto spec = Png(w, h, c.ct, c.bd, {});
      for (int i = 0; i < w * h * test_images::PngChannels(c.ct); ++i) {
        spec.samples.push_back(uint16_t(rng() % (c.maxv + 1)));
      }
      if (c.ct == PNG_COLOR_TYPE_PALETTE) spec.plte = test_images::Pattern(16, 1, 3, 9);
      const auto flat = Rgb(test_images::EncodePng(spec), w, h);
      spec.interlace = true;
      EXPECT_EQ(Rgb(test_images::EncodePng(spec), w, h), flat) << c.ct << "/" << c.bd << " " << w;
    }
  }
}

TEST(PngDecode, DataAfterTheLastRowIsOptional) {
  const Bytes rgb = test_images::Pattern(33, 17, 3, 5);
  const Bytes png = test_images::EncodePngRgb(33, 17, rgb.data());
  // Without IEND, and without IEND and the last IDAT's CRC: Pillow still decodes these.
  EXPECT_EQ(Rgb(Bytes(png.begin(), png.end() - 12), 33, 17), rgb);
  EXPECT_EQ(Rgb(Bytes(png.begin(), png.end() - 16), 33, 17), rgb);
}

TEST(PngDecode, Errors) {
  auto no_plte = Png(2, 1, PNG_COLOR_TYPE_PALETTE, 8, {0, 1});
  no_plte.plte = {1, 2, 3};
  Bytes png = test_images::EncodePng(no_plte);
  // Corrupt the PLTE chunk type so libpng never sees a palette.
  for (size_t i = 8; i + 4 < png.size(); ++i) {
    if (std::memcmp(&png[i], "PLTE", 4) == 0) png[i] = 'p';
  }
  auto r = Decode(png);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("PNG"), std::string::npos) << r.status().message();
  const Bytes rgb = test_images::Pattern(20, 20, 3, 6);
  png = test_images::EncodePngRgb(20, 20, rgb.data());
  r = Decode(Bytes(png.begin(), png.begin() + long(png.size() / 2)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
}

// ----------------------------------------------------------------------------------- JPEG

TEST(JpegDecode, RgbGreyAndProgressive) {
  const Bytes rgb = test_images::Pattern(16, 16, 3, 7);
  // Smooth content survives JPEG nearly unchanged; use a gradient.
  Bytes smooth(16 * 16 * 3);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) {
      smooth[(y * 16 + x) * 3] = uint8_t(x * 12);
      smooth[(y * 16 + x) * 3 + 1] = uint8_t(y * 12);
      smooth[(y * 16 + x) * 3 + 2] = 100;
    }
  }
  const auto base = Rgb(test_images::EncodeJpeg(16, 16, 3, smooth.data(), 100), 16, 16);
  EXPECT_LE(MaxDiff(base, smooth), 12);
  const auto prog =
      Rgb(test_images::EncodeJpeg(16, 16, 3, smooth.data(), 100, JCS_RGB, JCS_YCbCr, true), 16, 16);
  EXPECT_LE(MaxDiff(prog, smooth), 12);
  // Grey JPEG: replicated to three equal channels.
  const Bytes grey = test_images::Pattern(8, 8, 1, 8);
  const auto g =
      Rgb(test_images::EncodeJpeg(8, 8, 1, grey.data(), 90, JCS_GRAYSCALE, JCS_GRAYSCALE), 8, 8);
  for (size_t i = 0; i + 2 < g.size(); i += 3) {
    EXPECT_EQ(g[i], g[i + 1]);
    EXPECT_EQ(g[i], g[i + 2]);
  }
  (void)rgb;
}

// Pillow reads 4-component JPEGs as "CMYK;I" (Adobe polarity) and converts with cmyk2rgb.
std::vector<uint8_t> PillowCmykToRgb(const uint8_t raw[4]) {
  auto muldiv255 = [](int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  const int nk = raw[3];
  std::vector<uint8_t> out;
  for (int c = 0; c < 3; ++c) out.push_back(uint8_t(nk - muldiv255(255 - raw[c], nk)));
  return out;
}

TEST(JpegDecode, CmykAndYcck) {
  const uint8_t raw[4] = {200, 100, 30, 180};
  Bytes cmyk;
  for (int i = 0; i < 16 * 16; ++i) cmyk.insert(cmyk.end(), raw, raw + 4);
  std::vector<uint8_t> want;
  for (int i = 0; i < 16 * 16; ++i) {
    const auto px = PillowCmykToRgb(raw);
    want.insert(want.end(), px.begin(), px.end());
  }
  // A flat image at quality 100 round-trips exactly through CMYK.
  EXPECT_EQ(Rgb(test_images::EncodeJpeg(16, 16, 4, cmyk.data(), 100, JCS_CMYK, JCS_CMYK), 16, 16),
            want);
  // YCCK: libjpeg converts back to CMYK; colour conversion may round by one.
  EXPECT_LE(
      MaxDiff(Rgb(test_images::EncodeJpeg(16, 16, 4, cmyk.data(), 100, JCS_CMYK, JCS_YCCK), 16, 16),
              want),
      2);
}

TEST(JpegDecode, TruncatedIsAnError) {
  const Bytes rgb = test_images::Pattern(64, 48, 3, 9);
  const Bytes jpg = test_images::EncodeJpeg(64, 48, 3, rgb.data(), 90);
  ASSERT_TRUE(Decode(jpg).ok());
  for (size_t keep : {jpg.size() / 2, jpg.size() - 2, size_t(3), size_t(20)}) {
    auto r = Decode(Bytes(jpg.begin(), jpg.begin() + long(keep)));
    ASSERT_FALSE(r.ok()) << keep;
    EXPECT_EQ(r.status().message().rfind("JPEG: ", 0), 0u) << r.status().message();
  }
}

// ----------------------------------------------------------------------------------- WebP

TEST(WebpDecode, LosslessLossyAndAlpha) {
  Bytes rgba = test_images::Pattern(9, 7, 4, 10);
  for (size_t i = 3; i < rgba.size(); i += 4) rgba[i] = uint8_t(1 + rgba[i] % 255);  // alpha > 0
  EXPECT_EQ(Rgb(test_images::EncodeWebpRgba(9, 7, rgba.data(), true), 9, 7), DropAlpha(rgba));
  Bytes smooth(32 * 32 * 3);
  for (size_t i = 0; i < smooth.size(); ++i) smooth[i] = uint8_t(100 + (i / 3) % 32);
  EXPECT_LE(MaxDiff(Rgb(test_images::EncodeWebpRgb(32, 32, smooth.data(), 95), 32, 32), smooth),
            16);
}

TEST(WebpDecode, AnimatedFirstFrameOnBlackCanvas) {
  Bytes rgba = test_images::Pattern(4, 3, 4, 11);
  for (size_t i = 3; i < rgba.size(); i += 4) rgba[i] = 255;
  const Bytes other = test_images::Pattern(8, 6, 4, 12);
  test_images::WebpFrame f1{2, 2, 4, 3, test_images::EncodeWebpRgba(4, 3, rgba.data(), true)};
  test_images::WebpFrame f2{0, 0, 8, 6, test_images::EncodeWebpRgba(8, 6, other.data(), true)};
  const Bytes anim = test_images::MakeAnimatedWebp(8, 6, {f1, f2});
  const auto got = Rgb(anim, 8, 6);
  ASSERT_EQ(got.size(), 8u * 6 * 3);
  const auto frame = DropAlpha(rgba);
  for (int y = 0; y < 6; ++y) {
    for (int x = 0; x < 8; ++x) {
      const bool inside = x >= 2 && x < 6 && y >= 2 && y < 5;
      for (int c = 0; c < 3; ++c) {
        const uint8_t want = inside ? frame[((y - 2) * 4 + (x - 2)) * 3 + c] : 0;
        EXPECT_EQ(got[(y * 8 + x) * 3 + c], want) << x << "," << y;
      }
    }
  }
}

TEST(WebpDecode, Errors) {
  const Bytes rgba = test_images::Pattern(16, 16, 4, 13);
  const Bytes webp = test_images::EncodeWebpRgba(16, 16, rgba.data(), false, 80);
  for (size_t keep : {size_t(12), size_t(30), webp.size() / 2, webp.size() - 1}) {
    auto r = Decode(Bytes(webp.begin(), webp.begin() + long(keep)));
    ASSERT_FALSE(r.ok()) << keep;
    EXPECT_EQ(r.status().message().rfind("WebP: ", 0), 0u) << r.status().message();
  }
}

// ------------------------------------------------------------------------------------ BMP

test_images::BmpSpec Bmp(int w, int h, int bits, std::vector<Bytes> rows, Bytes palette = {}) {
  test_images::BmpSpec s;
  s.width = w;
  s.height = h;
  s.bits = bits;
  s.rows = std::move(rows);
  s.palette_rgb = std::move(palette);
  return s;
}

TEST(BmpDecode, TrueColourBottomUpAndTopDown) {
  const std::vector<Bytes> rows = {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}};
  const std::vector<uint8_t> want = {3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10};  // BGR stored
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(2, 2, 24, rows)), 2, 2), want);
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(2, -2, 24, rows)), 2, 2), want);
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(2, 1, 32, {{1, 2, 3, 4, 5, 6, 7, 8}})), 2, 1),
            (std::vector<uint8_t>{3, 2, 1, 7, 6, 5}));
  auto os2 = Bmp(1, 1, 24, {{1, 2, 3}});
  os2.header_size = 12;
  EXPECT_EQ(Rgb(test_images::MakeBmp(os2), 1, 1), (std::vector<uint8_t>{3, 2, 1}));
}

TEST(BmpDecode, PaletteDepths) {
  const Bytes pal = {10, 20, 30, 40, 50, 60};
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(8, 1, 1, {{0b10110000}}, pal)), 8, 1),
            (std::vector<uint8_t>{40, 50, 60, 10, 20, 30, 40, 50, 60, 40, 50, 60,
                                  10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30}));
  // 4-bit, indices 5 and 15 beyond a 2-entry palette -> grey ramp.
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(4, 1, 4, {{0x01, 0x5f}}, pal)), 4, 1),
            (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 5, 5, 5, 15, 15, 15}));
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(4, 1, 8, {{0, 1, 2, 200}}, pal)), 4, 1),
            (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 2, 2, 2, 200, 200, 200}));
  auto os2 = Bmp(4, 1, 8, {{0, 1, 1, 0}}, pal);
  os2.header_size = 12;
  EXPECT_EQ(Rgb(test_images::MakeBmp(os2), 4, 1),
            (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 40, 50, 60, 10, 20, 30}));
}

TEST(BmpDecode, SixteenBitAndBitfields) {
  auto le16 = [](std::initializer_list<uint16_t> v) {
    Bytes b;
    for (uint16_t x : v) test_images::PutLe16(&b, x);
    return b;
  };
  // Default X1R5G5B5; a 5-bit channel is v * 255 / 31 (integer division), as Pillow's BGR;15.
  EXPECT_EQ(Rgb(test_images::MakeBmp(Bmp(3, 1, 16, {le16({0x7fff, 0x1234, 0x8421})})), 3, 1),
            (std::vector<uint8_t>{255, 255, 255, 32, 139, 164, 8, 8, 8}));
  auto rgb565 = Bmp(3, 1, 16, {le16({0xffff, 0x1234, 0x8421})});
  rgb565.compression = 3;
  rgb565.masks[0] = 0xF800;
  rgb565.masks[1] = 0x07E0;
  rgb565.masks[2] = 0x001F;
  EXPECT_EQ(Rgb(test_images::MakeBmp(rgb565), 3, 1),
            (std::vector<uint8_t>{255, 255, 255, 16, 68, 164, 131, 133, 8}));
  // 32-bit BITFIELDS layouts (40-byte header with masks after it, and a V4 header).
  auto xbgr = Bmp(2, 1, 32, {{1, 2, 3, 4, 5, 6, 7, 8}});
  xbgr.compression = 3;
  xbgr.masks[0] = 0xFF000000;
  xbgr.masks[1] = 0x00FF0000;
  xbgr.masks[2] = 0x0000FF00;
  EXPECT_EQ(Rgb(test_images::MakeBmp(xbgr), 2, 1), (std::vector<uint8_t>{4, 3, 2, 8, 7, 6}));
  auto v4 = xbgr;
  v4.header_size = 108;
  v4.masks[0] = 0xFF;
  v4.masks[1] = 0xFF00;
  v4.masks[2] = 0xFF0000;
  v4.masks[3] = 0xFF000000;
  EXPECT_EQ(Rgb(test_images::MakeBmp(v4), 2, 1), (std::vector<uint8_t>{1, 2, 3, 5, 6, 7}));
  auto odd = xbgr;
  odd.masks[0] = 0x0F0F;  // not contiguous
  EXPECT_FALSE(Decode(test_images::MakeBmp(odd)).ok());
}

TEST(BmpDecode, Rle) {
  const Bytes pal = {10, 20, 30, 40, 50, 60, 7, 7, 7};
  // RLE8, bottom-up: row 0 (bottom) = 1 1 2 0 (EOL pads), row 1 (top) = 0 1 2 + EOL.
  auto rle8 = Bmp(4, 2, 8, {}, pal);
  rle8.compression = 1;
  rle8.raw = {2, 1, 1, 2, 0, 0, 0, 3, 0, 1, 2, 0, 0, 0, 0, 1};
  EXPECT_EQ(Rgb(test_images::MakeBmp(rle8), 4, 2),
            (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 7, 7, 7, 10, 20, 30,  //
                                  40, 50, 60, 40, 50, 60, 7, 7, 7, 10, 20, 30}));
  auto rle4 = Bmp(4, 1, 4, {}, pal);
  rle4.compression = 2;
  rle4.raw = {3, 0x12, 0, 0, 0, 1};
  EXPECT_EQ(Rgb(test_images::MakeBmp(rle4), 4, 1),
            (std::vector<uint8_t>{40, 50, 60, 7, 7, 7, 40, 50, 60, 10, 20, 30}));
  rle8.raw = {2, 1};  // stream ends before the image is complete
  auto r = Decode(test_images::MakeBmp(rle8));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("RLE"), std::string::npos);
}

TEST(BmpDecode, Errors) {
  const Bytes bmp = test_images::MakeBmp(Bmp(2, 2, 24, {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 1, 2, 3}}));
  auto r = Decode(Bytes(bmp.begin(), bmp.end() - 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("BMP: ", 0), 0u) << r.status().message();
  Bytes bad_depth = bmp;
  bad_depth[28] = 7;  // bits per pixel
  EXPECT_FALSE(Decode(bad_depth).ok());
  Bytes bad_header = bmp;
  bad_header[14] = 41;  // header size
  EXPECT_FALSE(Decode(bad_header).ok());
  Bytes zero_width = bmp;
  std::memset(&zero_width[18], 0, 4);
  EXPECT_FALSE(Decode(zero_width).ok());
}

// ------------------------------------------------------------------------------------ GIF

const Bytes kPal4 = {10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3};

test_images::GifFrame Frame(int x, int y, int w, int h, Bytes idx, int transparent = -1) {
  test_images::GifFrame f;
  f.x = x;
  f.y = y;
  f.width = w;
  f.height = h;
  f.indices = std::move(idx);
  f.transparent = transparent;
  return f;
}

TEST(GifDecode, PalettesAndRamp) {
  // Indices past the 4-entry table give (i, i, i).
  EXPECT_EQ(
      Rgb(test_images::MakeGif(6, 1, kPal4, {Frame(0, 0, 6, 1, {0, 1, 2, 3, 5, 200})}), 6, 1),
      (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3, 5, 5, 5, 200, 200, 200}));
  auto local = Frame(0, 0, 2, 1, {0, 1});
  local.local_palette = {9, 9, 9, 8, 8, 8};
  EXPECT_EQ(Rgb(test_images::MakeGif(2, 1, kPal4, {local}), 2, 1), Grey3({9, 8}));
  // No colour table at all: indices are grey levels.
  EXPECT_EQ(Rgb(test_images::MakeGif(3, 1, {}, {Frame(0, 0, 3, 1, {0, 1, 7})}), 3, 1),
            Grey3({0, 1, 7}));
}

TEST(GifDecode, FrameGeometryAndTransparency) {
  // A 2x1 frame at (1,0) on a 4x2 screen: the rest is index 0 ...
  EXPECT_EQ(Rgb(test_images::MakeGif(4, 2, kPal4, {Frame(1, 0, 2, 1, {2, 3})}), 4, 2),
            (std::vector<uint8_t>{10, 20, 30, 70, 80, 90, 1,  2,  3,  10, 20, 30,  //
                                  10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30}));
  // ... or the transparent index when the frame has one (colour kept, alpha dropped).
  EXPECT_EQ(Rgb(test_images::MakeGif(4, 2, kPal4, {Frame(1, 0, 2, 1, {2, 3}, 2)}), 4, 2),
            (std::vector<uint8_t>{70, 80, 90, 70, 80, 90, 1,  2,  3,  70, 80, 90,  //
                                  70, 80, 90, 70, 80, 90, 70, 80, 90, 70, 80, 90}));
  // A frame reaching past the screen enlarges the image.
  EXPECT_EQ(Rgb(test_images::MakeGif(2, 1, kPal4, {Frame(1, 0, 2, 2, {2, 3, 1, 2})}), 3, 2),
            (std::vector<uint8_t>{10, 20, 30, 70, 80, 90, 1, 2, 3,  //
                                  10, 20, 30, 40, 50, 60, 70, 80, 90}));
  // Only the first frame counts.
  EXPECT_EQ(Rgb(test_images::MakeGif(1, 1, kPal4, {Frame(0, 0, 1, 1, {1}), Frame(0, 0, 1, 1, {2})}),
                1, 1),
            (std::vector<uint8_t>{40, 50, 60}));
}

TEST(GifDecode, Interlaced) {
  Bytes idx(3 * 13);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = uint8_t(i % 4);
  auto f = Frame(0, 0, 3, 13, idx);
  const auto flat = Rgb(test_images::MakeGif(3, 13, kPal4, {f}), 3, 13);
  f.interlace = true;
  EXPECT_EQ(Rgb(test_images::MakeGif(3, 13, kPal4, {f}), 3, 13), flat);
}

TEST(GifDecode, TruncationRules) {
  const Bytes full = test_images::MakeGif(6, 1, kPal4, {Frame(0, 0, 6, 1, {1, 2, 3, 1, 2, 3})});
  // Missing trailer, or trailer and block terminator: fine, as in Pillow.
  EXPECT_TRUE(Decode(Bytes(full.begin(), full.end() - 1)).ok());
  EXPECT_TRUE(Decode(Bytes(full.begin(), full.end() - 2)).ok());
  // Image data cut short, or an end code before the frame is complete: errors.
  auto r = Decode(Bytes(full.begin(), full.end() - 5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("GIF: ", 0), 0u) << r.status().message();
  EXPECT_FALSE(Decode(test_images::MakeGif(6, 1, kPal4, {Frame(0, 0, 6, 1, {1, 2, 3})})).ok());
  EXPECT_FALSE(Decode(test_images::MakeGif(2, 1, kPal4, {})).ok());  // no image
  EXPECT_FALSE(Decode(test_images::MakeGif(2, 1, kPal4, {Frame(0, 0, 0, 1, {})})).ok());
}

// ----------------------------------------------------------------------- robustness, limits

// One small file of every format and flavour.
std::vector<Bytes> SampleFiles() {
  std::vector<Bytes> files;
  const Bytes rgb = test_images::Pattern(13, 9, 3, 20);
  const Bytes rgba = test_images::Pattern(13, 9, 4, 21);
  files.push_back(test_images::EncodePngRgb(13, 9, rgb.data()));
  auto pal = Png(13, 9, PNG_COLOR_TYPE_PALETTE, 4, {});
  for (int i = 0; i < 13 * 9; ++i) pal.samples.push_back(uint16_t(i % 16));
  pal.plte = test_images::Pattern(16, 1, 3, 22);
  pal.interlace = true;
  files.push_back(test_images::EncodePng(pal));
  files.push_back(test_images::EncodeJpeg(13, 9, 3, rgb.data(), 80));
  files.push_back(test_images::EncodeJpeg(13, 9, 3, rgb.data(), 80, JCS_RGB, JCS_YCbCr, true));
  files.push_back(test_images::EncodeWebpRgba(13, 9, rgba.data(), true));
  files.push_back(test_images::EncodeWebpRgba(13, 9, rgba.data(), false, 70));
  std::vector<Bytes> rows;
  for (int y = 0; y < 9; ++y) rows.emplace_back(rgb.begin() + y * 39, rgb.begin() + (y + 1) * 39);
  files.push_back(test_images::MakeBmp(Bmp(13, 9, 24, rows)));
  Bytes idx(13 * 9);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = uint8_t(i % 4);
  files.push_back(test_images::MakeGif(13, 9, kPal4, {Frame(0, 0, 13, 9, idx)}));
  return files;
}

TEST(ImageDecode, EveryPrefixOfEveryFormatFailsCleanly) {
  for (const Bytes& file : SampleFiles()) {
    ASSERT_FALSE(file.empty());
    ASSERT_TRUE(Decode(file).ok()) << ImageFormatName(DetectImageFormat(file.data(), file.size()));
    for (size_t n = 0; n + 1 < file.size(); ++n) {
      auto r = DecodeImage(file.data(), n);
      if (r.ok()) {  // only possible once all pixel data is in (GIF/PNG trailers)
        EXPECT_EQ(r->rgb.size(), size_t(r->width) * r->height * 3);
        EXPECT_GT(n, file.size() / 2) << "decoded from a prefix of " << n << " bytes";
      } else {
        EXPECT_FALSE(r.status().message().empty());
      }
    }
  }
}

TEST(ImageDecode, CorruptionAndGarbageNeverCrash) {
  std::mt19937 rng(42);
  int ok = 0, failed = 0;
  for (const Bytes& file : SampleFiles()) {
    for (int trial = 0; trial < 300; ++trial) {
      Bytes b = file;
      const int flips = 1 + int(rng() % 8);
      for (int f = 0; f < flips; ++f) b[rng() % b.size()] = uint8_t(rng());
      auto r = Decode(b);
      if (r.ok()) {
        EXPECT_EQ(r->rgb.size(), size_t(r->width) * r->height * 3);
        ++ok;
      } else {
        ++failed;
      }
    }
  }
  // Signatures followed by garbage.
  const std::string sigs[] = {std::string("\x89PNG\r\n\x1a\n", 8), "\xFF\xD8\xFF", "GIF89a", "BM",
                              std::string("RIFF\xFF\0\0\0WEBP", 12)};
  for (const std::string& sig : sigs) {
    for (int trial = 0; trial < 100; ++trial) {
      Bytes b(sig.begin(), sig.end());
      const size_t n = rng() % 200;
      for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(rng()));
      auto r = Decode(b);
      if (r.ok()) {
        EXPECT_EQ(r->rgb.size(), size_t(r->width) * r->height * 3);
      }
    }
  }
  EXPECT_GT(failed, 0);
  std::printf("[ corrupt  ] %d decoded, %d rejected\n", ok, failed);
  EXPECT_FALSE(Decode({}).ok());
  EXPECT_FALSE(DecodeImage(nullptr, 10).ok());
  auto r = Decode({'h', 'e', 'l', 'l', 'o'});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unrecognised format"), std::string::npos);
}

TEST(ImageDecode, MaxPixelsLimitAppliesToEveryFormat) {
  DecodeOptions tiny;
  tiny.max_pixels = 100;  // the samples are 13x9 = 117 pixels
  for (const Bytes& file : SampleFiles()) {
    auto r = Decode(file, tiny);
    ASSERT_FALSE(r.ok()) << ImageFormatName(DetectImageFormat(file.data(), file.size()));
    EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();
  }
  tiny.max_pixels = 117;
  for (const Bytes& file : SampleFiles()) EXPECT_TRUE(Decode(file, tiny).ok());
}

TEST(ImageDecode, HugeDeclaredSizesAreRefusedBeforeAllocation) {
  // Headers claiming ~4 gigapixels with almost no data: refused by the default limit, fast.
  const Bytes rgb = test_images::Pattern(8, 8, 3, 30);
  Bytes png = test_images::EncodePngRgb(8, 8, rgb.data());
  // IHDR width/height at bytes 16..23; the CRC no longer matches, so recompute it.
  for (int i = 0; i < 2; ++i) {
    png[16 + 4 * i] = 0;
    png[17 + 4 * i] = 1;
    png[18 + 4 * i] = 0;
    png[19 + 4 * i] = 0;
  }
  const uint32_t crc = Crc32(png.data() + 12, 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = uint8_t(crc >> (24 - 8 * i));
  auto r = Decode(png);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();

  Bytes jpg = test_images::EncodeJpeg(8, 8, 3, rgb.data(), 90);
  for (size_t i = 2; i + 8 < jpg.size(); ++i) {
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {  // SOF0: length(2) precision(1) height width
      jpg[i + 5] = 0xFF;                         // 65280 x 65280 (libjpeg's own maximum is 65500)
      jpg[i + 6] = 0x00;
      jpg[i + 7] = 0xFF;
      jpg[i + 8] = 0x00;
      break;
    }
  }
  r = Decode(jpg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();

  Bytes bmp = test_images::MakeBmp(Bmp(1, 1, 24, {{1, 2, 3}}));
  std::memset(&bmp[18], 0x7F, 3);  // width ~ 8M
  std::memset(&bmp[22], 0x7F, 3);  // height ~ 8M
  r = Decode(bmp);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();

  const Bytes gif = test_images::MakeGif(65535, 65535, kPal4, {Frame(0, 0, 1, 1, {1})});
  r = Decode(gif);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("limit"), std::string::npos) << r.status().message();
}

TEST(ImageDecode, FormatDetection) {
  for (const Bytes& file : SampleFiles()) {
    EXPECT_NE(DetectImageFormat(file.data(), file.size()), ImageFormat::kUnknown);
  }
  EXPECT_EQ(DetectImageFormat(reinterpret_cast<const uint8_t*>("GIF87a"), 6), ImageFormat::kGif);
  EXPECT_EQ(DetectImageFormat(reinterpret_cast<const uint8_t*>("RIFF1234WAVE"), 12),
            ImageFormat::kUnknown);
  EXPECT_STREQ(ImageFormatName(ImageFormat::kWebp), "WebP");
}

TEST(LoadImageFile, ReadsFilesAndNamesThePathInErrors) {
  const std::string dir = testing::MakeTempDir();
  const Bytes rgb = test_images::Pattern(5, 4, 3, 31);
  const Bytes png = test_images::EncodePngRgb(5, 4, rgb.data());
  const std::string path = dir + "/x.png";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size()));
  auto r = LoadImageFile(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->rgb, rgb);
  std::ofstream(dir + "/empty.png").close();
  r = LoadImageFile(dir + "/empty.png");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty.png"), std::string::npos);
  r = LoadImageFile(dir + "/missing.png");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing.png"), std::string::npos);
}

TEST(LoadImageFile, FixturePngs) {
  // The fixture images are what the official processor read; they must all decode.
  for (const char* name : {"describe_landscape_0", "tiny_image_0", "big_square_0"}) {
    auto r = LoadImageFile(testing::DataDir() + "/fixtures/tiny-mha/images/" + name + ".png");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_GT(r->width, 0);
  }
}

}  // namespace
}  // namespace dsvl2
