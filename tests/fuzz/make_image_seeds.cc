// Writes a small seed corpus for image_decode_fuzz: one or more tiny files of every format and
// flavour the decoders handle (PNG colour types/depths/interlace, baseline/progressive/grey/CMYK/
// YCCK JPEG, lossy/lossless/animated WebP, BMP depths/bitfields/RLE/OS2, GIF palettes/
// interlace/transparency). Usage: make_image_seeds <output dir>
#include <cstdio>
#include <string>

#include "fuzz/image_samples.h"

namespace ti = dsvl2::test_images;

namespace {

int written = 0;

void Write(const std::string& dir, const std::string& name, const ti::Bytes& b) {
  if (b.empty()) {
    std::fprintf(stderr, "make_image_seeds: could not build %s\n", name.c_str());
    return;
  }
  const std::string path = dir + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::fprintf(stderr, "make_image_seeds: cannot write %s\n", path.c_str());
    return;
  }
  std::fwrite(b.data(), 1, b.size(), f);
  std::fclose(f);
  ++written;
}

void Pngs(const std::string& dir) {
  struct Kind {
    int ct, bd;
  } kinds[] = {{PNG_COLOR_TYPE_GRAY, 1},       {PNG_COLOR_TYPE_GRAY, 2},
               {PNG_COLOR_TYPE_GRAY, 4},       {PNG_COLOR_TYPE_GRAY, 8},
               {PNG_COLOR_TYPE_GRAY, 16},      {PNG_COLOR_TYPE_RGB, 8},
               {PNG_COLOR_TYPE_RGB, 16},       {PNG_COLOR_TYPE_PALETTE, 1},
               {PNG_COLOR_TYPE_PALETTE, 4},    {PNG_COLOR_TYPE_PALETTE, 8},
               {PNG_COLOR_TYPE_GRAY_ALPHA, 8}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16},
               {PNG_COLOR_TYPE_RGB_ALPHA, 8},  {PNG_COLOR_TYPE_RGB_ALPHA, 16}};
  int n = 0;
  for (const Kind& k : kinds) {
    for (bool interlace : {false, true}) {
      ti::PngSpec s;
      s.width = 7;
      s.height = 5;
      s.color_type = k.ct;
      s.bit_depth = k.bd;
      s.interlace = interlace;
      const ti::Bytes noise = ti::Pattern(7 * 5 * ti::PngChannels(k.ct), 2, 1, uint32_t(n));
      for (size_t i = 0; i < noise.size() / 2; ++i) {
        const uint16_t v = uint16_t(noise[2 * i] << 8 | noise[2 * i + 1]);
        s.samples.push_back(uint16_t(v >> (16 - k.bd)));
      }
      s.samples.resize(size_t(7) * 5 * ti::PngChannels(k.ct), 1);
      if (k.ct == PNG_COLOR_TYPE_PALETTE) {
        s.plte = ti::Pattern(1 << std::min(k.bd, 4), 1, 3, 7);
        s.trns = {0, 128};
      } else if (k.ct == PNG_COLOR_TYPE_GRAY) {
        s.trns = {0, 1};
      }
      Write(dir, "png_" + std::to_string(n++) + ".png", ti::EncodePng(s));
    }
  }
}

void Jpegs(const std::string& dir) {
  const ti::Bytes rgb = ti::Pattern(16, 12, 3, 3);
  const ti::Bytes grey = ti::Pattern(16, 12, 1, 4);
  const ti::Bytes cmyk = ti::Pattern(16, 12, 4, 5);
  Write(dir, "baseline.jpg", ti::EncodeJpeg(16, 12, 3, rgb.data(), 75));
  Write(dir, "progressive.jpg",
        ti::EncodeJpeg(16, 12, 3, rgb.data(), 75, JCS_RGB, JCS_YCbCr, true));
  Write(dir, "rgb_colorspace.jpg", ti::EncodeJpeg(16, 12, 3, rgb.data(), 75, JCS_RGB, JCS_RGB));
  Write(dir, "grey.jpg", ti::EncodeJpeg(16, 12, 1, grey.data(), 75, JCS_GRAYSCALE, JCS_GRAYSCALE));
  Write(dir, "cmyk.jpg", ti::EncodeJpeg(16, 12, 4, cmyk.data(), 75, JCS_CMYK, JCS_CMYK));
  Write(dir, "ycck.jpg", ti::EncodeJpeg(16, 12, 4, cmyk.data(), 75, JCS_CMYK, JCS_YCCK, true));
}

void Webps(const std::string& dir) {
  const ti::Bytes rgba = ti::Pattern(12, 10, 4, 6);
  const ti::Bytes rgb = ti::Pattern(12, 10, 3, 7);
  Write(dir, "lossless.webp", ti::EncodeWebpRgba(12, 10, rgba.data(), true));
  Write(dir, "lossy_alpha.webp", ti::EncodeWebpRgba(12, 10, rgba.data(), false, 50));
  Write(dir, "lossy.webp", ti::EncodeWebpRgb(12, 10, rgb.data(), 50));
  const ti::Bytes small = ti::Pattern(4, 4, 4, 8);
  ti::WebpFrame a{2, 2, 4, 4, ti::EncodeWebpRgba(4, 4, small.data(), true)};
  ti::WebpFrame b{0, 0, 4, 4, ti::EncodeWebpRgba(4, 4, small.data(), false, 40)};
  Write(dir, "animated.webp", ti::MakeAnimatedWebp(8, 8, {a, b}));
}

void Bmps(const std::string& dir) {
  const ti::Bytes pal = ti::Pattern(16, 1, 3, 9);
  auto rows_of = [](int w, int h, int bits, uint32_t seed) {
    std::vector<ti::Bytes> rows;
    const size_t bytes = (size_t(w) * bits + 7) / 8;
    for (int y = 0; y < h; ++y) rows.push_back(ti::Pattern(int(bytes), 1, 1, seed + uint32_t(y)));
    return rows;
  };
  int n = 0;
  for (int bits : {1, 4, 8, 16, 24, 32}) {
    for (int h : {5, -5}) {
      ti::BmpSpec s;
      s.width = 9;
      s.height = h;
      s.bits = bits;
      s.rows = rows_of(9, 5, bits, uint32_t(bits));
      if (bits <= 8) s.palette_rgb = pal;
      Write(dir, "bmp_" + std::to_string(n++) + ".bmp", ti::MakeBmp(s));
    }
  }
  ti::BmpSpec bf;
  bf.width = 4;
  bf.height = 3;
  bf.bits = 16;
  bf.compression = 3;
  bf.masks[0] = 0xF800;
  bf.masks[1] = 0x07E0;
  bf.masks[2] = 0x001F;
  bf.rows = rows_of(4, 3, 16, 40);
  Write(dir, "bitfields565.bmp", ti::MakeBmp(bf));
  bf.bits = 32;
  bf.header_size = 124;
  bf.masks[0] = 0xFF;
  bf.masks[1] = 0xFF00;
  bf.masks[2] = 0xFF0000;
  bf.masks[3] = 0xFF000000;
  bf.rows = rows_of(4, 3, 32, 41);
  Write(dir, "bitfields_v5.bmp", ti::MakeBmp(bf));
  ti::BmpSpec os2;
  os2.width = 4;
  os2.height = 2;
  os2.bits = 8;
  os2.header_size = 12;
  os2.palette_rgb = pal;
  os2.rows = rows_of(4, 2, 8, 42);
  Write(dir, "os2.bmp", ti::MakeBmp(os2));
  ti::BmpSpec rle;
  rle.width = 5;
  rle.height = 3;
  rle.bits = 8;
  rle.compression = 1;
  rle.palette_rgb = pal;
  rle.raw = {3, 1, 2, 2, 0, 0, 0, 3, 4, 5, 6, 0, 0, 0, 0, 2, 1, 0, 5, 7, 0, 0, 0, 1};
  Write(dir, "rle8.bmp", ti::MakeBmp(rle));
  rle.bits = 4;
  rle.compression = 2;
  rle.raw = {5, 0x12, 0, 0, 0, 4, 0x34, 0x56, 0, 0, 3, 0x77, 0, 0, 0, 1};
  Write(dir, "rle4.bmp", ti::MakeBmp(rle));
}

void Gifs(const std::string& dir) {
  const ti::Bytes pal = ti::Pattern(8, 1, 3, 10);
  ti::GifFrame f;
  f.width = 9;
  f.height = 7;
  f.indices = ti::Pattern(9 * 7, 1, 1, 11);
  for (auto& v : f.indices) v &= 7;
  Write(dir, "plain.gif", ti::MakeGif(9, 7, pal, {f}));
  f.interlace = true;
  f.transparent = 3;
  Write(dir, "interlaced_transparent.gif", ti::MakeGif(9, 7, pal, {f}));
  ti::GifFrame sub = f;
  sub.x = 3;
  sub.y = 2;
  sub.interlace = false;
  sub.local_palette = ti::Pattern(4, 1, 3, 12);
  Write(dir, "subframe_local.gif", ti::MakeGif(10, 10, pal, {sub, f}));
  Write(dir, "no_palette.gif", ti::MakeGif(9, 7, {}, {f}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Pngs(dir);
  Jpegs(dir);
  Webps(dir);
  Bmps(dir);
  Gifs(dir);
  std::printf("make_image_seeds: wrote %d files to %s\n", written, dir.c_str());
  return written > 0 ? 0 : 1;
}
