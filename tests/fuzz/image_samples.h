// Small images of every supported format, built in memory: PNG (libpng), JPEG (libjpeg), WebP
// (libwebp encoder) and hand-assembled BMP, GIF and animated WebP files. Header-only, shared by
// tests/unit/image_test.cc and the fuzz seed generator (make_image_seeds.cc).
#pragma once

#include <cstdio>  // jpeglib.h needs FILE

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace dsvl2::test_images {

using Bytes = std::vector<uint8_t>;

inline void PutLe16(Bytes* b, uint32_t v) {
  b->push_back(uint8_t(v));
  b->push_back(uint8_t(v >> 8));
}
inline void PutLe32(Bytes* b, uint32_t v) {
  PutLe16(b, v & 0xFFFF);
  PutLe16(b, v >> 16);
}
inline void PutLe24(Bytes* b, uint32_t v) {
  PutLe16(b, v & 0xFFFF);
  b->push_back(uint8_t(v >> 16));
}

// ---------------------------------------------------------------------------------------- PNG

struct PngSpec {
  int width = 1, height = 1;
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  bool interlace = false;
  std::vector<uint16_t> samples;  // width * height * channels, row-major, unpacked values
  Bytes plte;                     // RGB triples (palette images)
  Bytes trns;                     // raw tRNS payload
};

inline int PngChannels(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      return 1;
    case PNG_COLOR_TYPE_PALETTE:
      return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    default:
      return 4;
  }
}

namespace internal {
struct PngWriteState {
  Bytes out;
};
inline void PngWriteFn(png_structp png, png_bytep data, size_t n) {
  auto* s = static_cast<PngWriteState*>(png_get_io_ptr(png));
  s->out.insert(s->out.end(), data, data + n);
}
inline void PngFlushFn(png_structp) {}
inline void PngErrorFn(png_structp png, png_const_charp) { png_longjmp(png, 1); }
inline void PngWarnFn(png_structp, png_const_charp) {}

// Packs one row of samples to the PNG bit depth.
inline Bytes PackPngRow(const PngSpec& spec, int y) {
  const int ch = PngChannels(spec.color_type);
  const size_t n = size_t(spec.width) * ch;
  const uint16_t* s = spec.samples.data() + size_t(y) * n;
  Bytes row;
  if (spec.bit_depth == 16) {
    for (size_t i = 0; i < n; ++i) {
      row.push_back(uint8_t(s[i] >> 8));
      row.push_back(uint8_t(s[i]));
    }
  } else if (spec.bit_depth == 8) {
    for (size_t i = 0; i < n; ++i) row.push_back(uint8_t(s[i]));
  } else {
    row.assign((n * spec.bit_depth + 7) / 8, 0);
    for (size_t i = 0; i < n; ++i) {
      const size_t bit = i * spec.bit_depth;
      row[bit / 8] |=
          uint8_t((s[i] & ((1 << spec.bit_depth) - 1)) << (8 - spec.bit_depth - bit % 8));
    }
  }
  return row;
}

// Objects with destructors are owned by the caller, so libpng's longjmp skips none.
inline bool WritePng(const PngSpec& spec, PngWriteState* st, png_structp png, png_infop info,
                     std::vector<png_color>* plte, std::vector<Bytes>* rows,
                     std::vector<png_bytep>* ptrs) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, st, PngWriteFn, PngFlushFn);
  png_set_check_for_invalid_index(png, -1);  // tests write indices past the palette on purpose
  png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.color_type,
               spec.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (size_t i = 0; i + 2 < spec.plte.size(); i += 3) {
    plte->push_back({spec.plte[i], spec.plte[i + 1], spec.plte[i + 2]});
  }
  if (!plte->empty()) png_set_PLTE(png, info, plte->data(), int(plte->size()));
  if (!spec.trns.empty()) {
    if (spec.color_type == PNG_COLOR_TYPE_PALETTE) {
      png_set_tRNS(png, info, spec.trns.data(), int(spec.trns.size()), nullptr);
    } else {
      png_color_16 c{};
      c.gray = uint16_t(spec.trns[0] << 8 | spec.trns[1]);
      if (spec.trns.size() >= 6) {
        c.red = uint16_t(spec.trns[0] << 8 | spec.trns[1]);
        c.green = uint16_t(spec.trns[2] << 8 | spec.trns[3]);
        c.blue = uint16_t(spec.trns[4] << 8 | spec.trns[5]);
      }
      png_set_tRNS(png, info, nullptr, 0, &c);
    }
  }
  for (int y = 0; y < spec.height; ++y) rows->push_back(PackPngRow(spec, y));
  for (auto& r : *rows) ptrs->push_back(r.data());
  png_set_rows(png, info, ptrs->data());
  png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
  return true;
}
}  // namespace internal

// Encodes with libpng; empty on failure (the spec is inconsistent).
inline Bytes EncodePng(const PngSpec& spec) {
  internal::PngWriteState st;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, internal::PngErrorFn,
                                            internal::PngWarnFn);
  if (png == nullptr) return {};
  png_infop info = png_create_info_struct(png);
  std::vector<png_color> plte;
  std::vector<Bytes> rows;
  std::vector<png_bytep> ptrs;
  const bool ok = info != nullptr && internal::WritePng(spec, &st, png, info, &plte, &rows, &ptrs);
  png_destroy_write_struct(&png, &info);
  return ok ? st.out : Bytes();
}

// An 8-bit RGB PNG of the given pixels.
inline Bytes EncodePngRgb(int w, int h, const uint8_t* rgb) {
  PngSpec s;
  s.width = w;
  s.height = h;
  s.samples.assign(rgb, rgb + size_t(w) * h * 3);
  return EncodePng(s);
}

// --------------------------------------------------------------------------------------- JPEG

namespace internal {
struct JpegErr {
  jpeg_error_mgr mgr;
  jmp_buf jump;
};
inline void JpegErrorExit(j_common_ptr c) {
  std::longjmp(reinterpret_cast<JpegErr*>(c->err)->jump, 1);
}
inline void JpegSilent(j_common_ptr) {}

inline bool WriteJpeg(jpeg_compress_struct* c, JpegErr* err, int w, int h, int components,
                      J_COLOR_SPACE in_space, J_COLOR_SPACE jpeg_space, const uint8_t* pixels,
                      int quality, bool progressive, unsigned char** buf, unsigned long* size) {
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(c);
  jpeg_mem_dest(c, buf, size);
  c->image_width = JDIMENSION(w);
  c->image_height = JDIMENSION(h);
  c->input_components = components;
  c->in_color_space = in_space;
  jpeg_set_defaults(c);
  jpeg_set_colorspace(c, jpeg_space);
  jpeg_set_quality(c, quality, TRUE);
  if (progressive) jpeg_simple_progression(c);
  jpeg_start_compress(c, TRUE);
  while (c->next_scanline < c->image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels) + size_t(c->next_scanline) * w * components;
    jpeg_write_scanlines(c, &row, 1);
  }
  jpeg_finish_compress(c);
  return true;
}
}  // namespace internal

// Encodes w x h pixels of `components` channels (in_space: JCS_GRAYSCALE, JCS_RGB, JCS_CMYK)
// to a JPEG stored in jpeg_space (e.g. JCS_YCbCr, JCS_GRAYSCALE, JCS_CMYK, JCS_YCCK).
inline Bytes EncodeJpeg(int w, int h, int components, const uint8_t* pixels, int quality = 90,
                        J_COLOR_SPACE in_space = JCS_RGB, J_COLOR_SPACE jpeg_space = JCS_YCbCr,
                        bool progressive = false) {
  jpeg_compress_struct c;
  internal::JpegErr err;
  c.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = internal::JpegErrorExit;
  err.mgr.output_message = internal::JpegSilent;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const bool ok = internal::WriteJpeg(&c, &err, w, h, components, in_space, jpeg_space, pixels,
                                      quality, progressive, &buf, &size);
  jpeg_destroy_compress(&c);
  Bytes out;
  if (ok && buf != nullptr) out.assign(buf, buf + size);
  std::free(buf);
  return out;
}

// --------------------------------------------------------------------------------------- WebP

// Lossless keeps every RGB value whose alpha is non-zero.
inline Bytes EncodeWebpRgba(int w, int h, const uint8_t* rgba, bool lossless, float quality = 90) {
  uint8_t* out = nullptr;
  const size_t n = lossless ? WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &out)
                            : WebPEncodeRGBA(rgba, w, h, w * 4, quality, &out);
  Bytes b;
  if (n > 0 && out != nullptr) b.assign(out, out + n);
  WebPFree(out);
  return b;
}

inline Bytes EncodeWebpRgb(int w, int h, const uint8_t* rgb, float quality = 90) {
  uint8_t* out = nullptr;
  const size_t n = WebPEncodeRGB(rgb, w, h, w * 3, quality, &out);
  Bytes b;
  if (n > 0 && out != nullptr) b.assign(out, out + n);
  WebPFree(out);
  return b;
}

// An animated WebP (VP8X + ANIM + one ANMF per frame) from still WebP files: each frame's
// image chunks (everything after the RIFF/VP8X headers) go into an ANMF at (x, y) (even).
struct WebpFrame {
  int x = 0, y = 0, width = 0, height = 0;
  Bytes still;  // a complete still .webp of width x height
};

inline Bytes MakeAnimatedWebp(int canvas_w, int canvas_h, const std::vector<WebpFrame>& frames) {
  Bytes body = {'W', 'E', 'B', 'P', 'V', 'P', '8', 'X'};
  PutLe32(&body, 10);
  body.push_back(0x02 | 0x10);  // animation + alpha
  body.insert(body.end(), 3, 0);
  PutLe24(&body, uint32_t(canvas_w - 1));
  PutLe24(&body, uint32_t(canvas_h - 1));
  const char anim[] = {'A', 'N', 'I', 'M'};
  body.insert(body.end(), anim, anim + 4);
  PutLe32(&body, 6);
  PutLe32(&body, 0xFF00FF00);  // background colour (ignored by decoders)
  PutLe16(&body, 0);           // loop count
  for (const WebpFrame& f : frames) {
    // Skip "RIFF" size "WEBP" and an optional VP8X chunk of the still file.
    size_t pos = 12;
    if (f.still.size() >= 30 && std::memcmp(f.still.data() + 12, "VP8X", 4) == 0) pos += 18;
    Bytes payload;
    PutLe24(&payload, uint32_t(f.x / 2));
    PutLe24(&payload, uint32_t(f.y / 2));
    PutLe24(&payload, uint32_t(f.width - 1));
    PutLe24(&payload, uint32_t(f.height - 1));
    PutLe24(&payload, 100);   // duration
    payload.push_back(0x02);  // no blending, no disposal
    payload.insert(payload.end(), f.still.begin() + long(pos), f.still.end());
    const char anmf[] = {'A', 'N', 'M', 'F'};
    body.insert(body.end(), anmf, anmf + 4);
    PutLe32(&body, uint32_t(payload.size()));
    body.insert(body.end(), payload.begin(), payload.end());
    if (payload.size() % 2) body.push_back(0);
  }
  Bytes out = {'R', 'I', 'F', 'F'};
  PutLe32(&out, uint32_t(body.size()));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// ---------------------------------------------------------------------------------------- BMP

struct BmpSpec {
  int width = 1;
  int height = 1;  // negative: top-down rows
  int bits = 24;
  uint32_t compression = 0;
  int header_size = 40;              // 12 (OS/2 v1), 40, 108, 124
  Bytes palette_rgb;                 // RGB triples, written as BGR0 (BGR for OS/2 v1)
  int64_t clr_used = -1;             // -1: number of palette entries
  uint32_t masks[4] = {0, 0, 0, 0};  // BI_BITFIELDS r, g, b, a
  std::vector<Bytes> rows;           // top row first, unpadded pixel bytes (uncompressed)
  Bytes raw;                         // the pixel data as is (RLE)
};

inline Bytes MakeBmp(const BmpSpec& s) {
  const int h = s.height < 0 ? -s.height : s.height;
  Bytes pixels = s.raw;
  if (s.raw.empty()) {
    const size_t stride = ((size_t(s.width) * s.bits + 31) / 32) * 4;
    for (int r = 0; r < h; ++r) {
      const Bytes& row = s.rows[size_t(s.height < 0 ? r : h - 1 - r)];
      Bytes padded(stride, 0);
      std::memcpy(padded.data(), row.data(), std::min(row.size(), stride));
      pixels.insert(pixels.end(), padded.begin(), padded.end());
    }
  }
  Bytes dib;
  if (s.header_size == 12) {
    PutLe32(&dib, 12);
    PutLe16(&dib, uint32_t(s.width));
    PutLe16(&dib, uint32_t(h));
    PutLe16(&dib, 1);
    PutLe16(&dib, uint32_t(s.bits));
  } else {
    PutLe32(&dib, uint32_t(s.header_size));
    PutLe32(&dib, uint32_t(s.width));
    PutLe32(&dib, uint32_t(s.height));
    PutLe16(&dib, 1);
    PutLe16(&dib, uint32_t(s.bits));
    PutLe32(&dib, s.compression);
    PutLe32(&dib, uint32_t(pixels.size()));
    PutLe32(&dib, 2835);
    PutLe32(&dib, 2835);
    PutLe32(&dib, uint32_t(s.clr_used >= 0 ? s.clr_used : int64_t(s.palette_rgb.size() / 3)));
    PutLe32(&dib, 0);
    if (s.header_size >= 52) {
      for (int i = 0; i < 4; ++i) PutLe32(&dib, s.masks[i]);
    }
    dib.resize(size_t(s.header_size), 0);
    if (s.header_size == 40 && s.compression == 3) {
      for (int i = 0; i < 3; ++i) PutLe32(&dib, s.masks[i]);
    }
  }
  Bytes pal;
  for (size_t i = 0; i + 2 < s.palette_rgb.size(); i += 3) {
    pal.push_back(s.palette_rgb[i + 2]);
    pal.push_back(s.palette_rgb[i + 1]);
    pal.push_back(s.palette_rgb[i]);
    if (s.header_size != 12) pal.push_back(0);
  }
  const uint32_t offset = uint32_t(14 + dib.size() + pal.size());
  Bytes out = {'B', 'M'};
  PutLe32(&out, offset + uint32_t(pixels.size()));
  PutLe32(&out, 0);
  PutLe32(&out, offset);
  out.insert(out.end(), dib.begin(), dib.end());
  out.insert(out.end(), pal.begin(), pal.end());
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

// ---------------------------------------------------------------------------------------- GIF

struct GifFrame {
  int x = 0, y = 0, width = 1, height = 1;
  Bytes indices;         // width * height, display order
  Bytes local_palette;   // RGB triples; empty: none
  int transparent = -1;  // Graphic Control Extension transparent index, -1: no GCE
  bool interlace = false;
};

// LZW data that only ever emits literal codes (code size 9), with a clear code every 254 codes
// so the decoder's code size never grows: valid for any decoder, easy to write.
inline Bytes GifLiteralLzw(const Bytes& indices) {
  constexpr int kMinCodeSize = 8, kClear = 256, kEnd = 257;
  Bytes packed;
  uint32_t acc = 0;
  int nbits = 0;
  auto emit = [&](int code) {
    acc |= uint32_t(code) << nbits;
    nbits += 9;
    while (nbits >= 8) {
      packed.push_back(uint8_t(acc));
      acc >>= 8;
      nbits -= 8;
    }
  };
  emit(kClear);
  int since_clear = 0;
  for (uint8_t v : indices) {
    if (since_clear == 254) {
      emit(kClear);
      since_clear = 0;
    }
    emit(v);
    ++since_clear;
  }
  emit(kEnd);
  if (nbits > 0) packed.push_back(uint8_t(acc));
  Bytes out = {uint8_t(kMinCodeSize)};
  for (size_t i = 0; i < packed.size(); i += 255) {
    const size_t n = std::min<size_t>(255, packed.size() - i);
    out.push_back(uint8_t(n));
    out.insert(out.end(), packed.begin() + long(i), packed.begin() + long(i + n));
  }
  out.push_back(0);
  return out;
}

// Colour-table size field for n entries (tables hold 2^(field+1) entries, zero-padded).
inline int GifTableBits(size_t entries) {
  int bits = 1;
  while ((size_t(1) << bits) < entries) ++bits;
  return bits;
}

inline void PutGifTable(Bytes* out, const Bytes& rgb) {
  const size_t entries = size_t(1) << GifTableBits(rgb.size() / 3);
  out->insert(out->end(), rgb.begin(), rgb.end());
  out->insert(out->end(), entries * 3 - rgb.size(), 0);
}

inline Bytes MakeGif(int screen_w, int screen_h, const Bytes& global_palette,
                     const std::vector<GifFrame>& frames, bool trailer = true) {
  Bytes out = {'G', 'I', 'F', '8', '9', 'a'};
  PutLe16(&out, uint32_t(screen_w));
  PutLe16(&out, uint32_t(screen_h));
  out.push_back(
      global_palette.empty() ? 0 : uint8_t(0x80 | (GifTableBits(global_palette.size() / 3) - 1)));
  out.push_back(0);  // background index
  out.push_back(0);  // aspect
  if (!global_palette.empty()) PutGifTable(&out, global_palette);
  for (const GifFrame& f : frames) {
    if (f.transparent >= 0) {
      const uint8_t gce[] = {0x21, 0xF9, 4, 1, 0, 0, uint8_t(f.transparent), 0};
      out.insert(out.end(), gce, gce + sizeof(gce));
    }
    out.push_back(0x2C);
    PutLe16(&out, uint32_t(f.x));
    PutLe16(&out, uint32_t(f.y));
    PutLe16(&out, uint32_t(f.width));
    PutLe16(&out, uint32_t(f.height));
    uint8_t flags = f.interlace ? 0x40 : 0;
    if (!f.local_palette.empty())
      flags |= uint8_t(0x80 | (GifTableBits(f.local_palette.size() / 3) - 1));
    out.push_back(flags);
    if (!f.local_palette.empty()) PutGifTable(&out, f.local_palette);
    Bytes order = f.indices;
    if (f.interlace) {  // rows in the order passes store them
      order.clear();
      static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
      for (int p = 0; p < 4; ++p) {
        for (int y = kStart[p]; y < f.height; y += kStep[p]) {
          order.insert(order.end(), f.indices.begin() + long(y) * f.width,
                       f.indices.begin() + long(y + 1) * f.width);
        }
      }
    }
    const Bytes lzw = GifLiteralLzw(order);
    out.insert(out.end(), lzw.begin(), lzw.end());
  }
  if (trailer) out.push_back(0x3B);
  return out;
}

// A deterministic test pattern of w x h x channels bytes.
inline Bytes Pattern(int w, int h, int channels, uint32_t seed = 1) {
  Bytes b(size_t(w) * h * channels);
  uint32_t x = seed * 2654435761u + 12345u;
  for (auto& v : b) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v = uint8_t(x >> 7);
  }
  return b;
}

}  // namespace dsvl2::test_images
