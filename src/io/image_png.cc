// PNG decoding with libpng, converted to RGB8 the way Pillow 9.4 opens a PNG (PngImagePlugin
// _MODES) and then runs convert("RGB"):
//   grey 1/2/4-bit  -> "1"/"L;2"/"L;4": scaled x255/x85/x17        (libpng rows unpacked only)
//   grey 8          -> "L"
//   grey 16         -> "I" from "I;16B", then i2rgb clips to 0..255 (0x0100 -> 255, not 1)
//   RGB 8/16        -> "RGB"/"RGB;16B": 16-bit keeps the high byte
//   palette 1..8    -> "P": PLTE lookup; indices past PLTE give (i,i,i); tRNS ignored
//   grey+alpha 8/16 -> "LA"/"LA;16B": alpha dropped, high byte
//   RGBA 8/16       -> "RGBA"/"RGBA;16B": alpha dropped, high byte
// No gamma/ICC/sBIT handling (Pillow applies none). libpng does only unpacking and
// de-interlacing here; every value conversion is ours. As in Pillow, chunk CRCs are checked up to
// the image data and not from there on, and once every row is decoded whatever follows (IEND,
// trailing chunks, even corrupt ones) is ignored; rows missing is "truncated".
//
// libpng reports errors by longjmp. All objects with destructors live outside the function that
// calls setjmp, so the jump never skips a destructor.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>
#include <vector>

#include "io/image_internal.h"

namespace dsvl2::image_internal {
namespace {

struct PngSession {
  const uint8_t* data = nullptr;
  size_t size = 0;
  png_structp png = nullptr;
  png_infop info = nullptr;
  char message[256] = {0};
  const DecodeOptions* options = nullptr;
  int bit_depth = 0;
  int color_type = 0;
  bool interlaced = false;
  size_t rowbytes = 0;
  int64_t rows_expected = 0;  // data rows libpng will deliver (summed over Adam7 passes)
  int64_t rows_done = 0;      // data rows delivered so far
  bool checksum_failed = false;
  Palette256 palette;
  // Objects with destructors live here, so a longjmp never crosses their destructors.
  Status status;
  Image image;
  std::vector<uint8_t> raw;  // the whole unpacked image, when interlaced
};

void OnPngError(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngSession*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof(s->message), "%s", msg != nullptr ? msg : "libpng error");
  png_longjmp(png, 1);
}

// Warnings are not errors (Pillow ignores what they report), except a zlib checksum mismatch:
// it is the only sign of corrupt pixel data, libpng downgrades it to a "benign" error, and
// Pillow's zlib-based decoder fails on it.
void OnPngWarning(png_structp png, png_const_charp msg) {
  if (msg != nullptr && std::strstr(msg, "ADLER32") != nullptr) {
    auto* s = static_cast<PngSession*>(png_get_error_ptr(png));
    std::snprintf(s->message, sizeof(s->message), "corrupt image data (%s)", msg);
    s->checksum_failed = true;
  }
}

inline uint8_t Clip16ToU8(const uint8_t* be) {
  unsigned v = (unsigned(be[0]) << 8) | be[1];
  return v >= 255 ? 255 : uint8_t(v);
}

// Converts one unpacked libpng row (1 byte per sample below 8 bits) to RGB8.
void ConvertRow(const uint8_t* in, int width, int color_type, int bit_depth,
                const Palette256& palette, uint8_t* out) {
  const bool b16 = bit_depth == 16;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: {
      if (b16) {
        for (int x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = Clip16ToU8(in + 2 * x);
        return;
      }
      const int scale = bit_depth == 1 ? 255 : bit_depth == 2 ? 85 : bit_depth == 4 ? 17 : 1;
      for (int x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = uint8_t(in[x] * scale);
      return;
    }
    case PNG_COLOR_TYPE_PALETTE:
      for (int x = 0; x < width; ++x, out += 3) palette.Put(in[x], out);
      return;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
      const int step = b16 ? 4 : 2;
      for (int x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = in[x * step];
      return;
    }
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: {
      const int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
      const int bps = b16 ? 2 : 1;
      for (int x = 0; x < width; ++x, out += 3) {
        const uint8_t* p = in + size_t(x) * channels * bps;
        out[0] = p[0];
        out[1] = p[bps];
        out[2] = p[2 * bps];
      }
      return;
    }
    default:
      return;
  }
}

// Progressive-reader callbacks. libpng's push API hands rows over as soon as they are
// decompressed, so data after the last row (trailing IDAT bytes, CRC, IEND) is not required,
// exactly as Pillow stops once its decoder has filled the image. Only trivial locals here: an
// error longjmps out of these callbacks.
void OnInfo(png_structp png, png_infop info) {
  auto* s = static_cast<PngSession*>(png_get_progressive_ptr(png));
  png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);  // IDAT on: CRCs unchecked
  png_uint_32 width = 0, height = 0;
  int interlace = 0;
  png_get_IHDR(png, info, &width, &height, &s->bit_depth, &s->color_type, &interlace, nullptr,
               nullptr);
  s->status = AllocateImage("PNG", width, height, *s->options, &s->image);
  if (!s->status.ok()) png_error(png, "image too large");
  if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp plte = nullptr;
    int num = 0;
    if (png_get_PLTE(png, info, &plte, &num) == 0 || plte == nullptr) {
      png_error(png, "palette image without a PLTE chunk");
    }
    for (int i = 0; i < num && i < 256; ++i) {
      s->palette.Set(i, plte[i].red, plte[i].green, plte[i].blue);
    }
  }
  if (s->bit_depth < 8) png_set_packing(png);  // one byte per sample, values unscaled
  s->interlaced = png_set_interlace_handling(png) > 1;
  png_read_update_info(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes == 0 || rowbytes > size_t(width) * 8) png_error(png, "unexpected row size");
  s->rowbytes = rowbytes;
  // Interlaced rows arrive pass by pass and are combined in a full-size buffer.
  s->rows_expected = height;
  if (s->interlaced) {
    bool allocated = true;
    try {  // no C++ exception may cross libpng's C frames
      s->raw.assign(rowbytes * height, 0);
    } catch (const std::bad_alloc&) {
      allocated = false;
    }
    if (!allocated) png_error(png, "out of memory for the interlaced image buffer");
    s->rows_expected = 0;
    for (int pass = 0; pass < 7; ++pass) {
      if (PNG_PASS_COLS(width, pass) > 0) s->rows_expected += PNG_PASS_ROWS(height, pass);
    }
  }
}

void OnRow(png_structp png, png_bytep row, png_uint_32 y, int /*pass*/) {
  auto* s = static_cast<PngSession*>(png_get_progressive_ptr(png));
  // A null row is an interlace pass with no data for image row y.
  if (row == nullptr || y >= png_uint_32(s->image.height)) return;
  ++s->rows_done;
  if (s->interlaced) {
    png_progressive_combine_row(png, s->raw.data() + s->rowbytes * y, row);
  } else {
    ConvertRow(row, s->image.width, s->color_type, s->bit_depth, s->palette,
               s->image.rgb.data() + size_t(s->image.width) * 3 * y);
  }
}

// Feeds the whole buffer to libpng. Returns false with s->message set on a libpng error.
bool RunLibpng(PngSession* s) {
  // An error after the last row (in trailing chunks) does not matter: Pillow stops reading there.
  if (setjmp(png_jmpbuf(s->png)))
    return s->status.ok() && s->rows_expected > 0 && s->rows_done >= s->rows_expected;
  png_set_user_limits(s->png, 0x7fffffff, 0x7fffffff);  // the pixel-count guard is ours
  // Pillow verifies the CRC of every chunk before the image data, ancillary ones included, and
  // of none from the first IDAT on (see OnInfo).
  png_set_crc_action(s->png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
  png_set_progressive_read_fn(s->png, s, OnInfo, OnRow, nullptr);
  png_process_data(s->png, s->info, const_cast<uint8_t*>(s->data), s->size);
  return true;
}

}  // namespace

StatusOr<Image> DecodePng(const uint8_t* data, size_t size, const DecodeOptions& options) {
  PngSession s;
  s.data = data;
  s.size = size;
  s.options = &options;
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, OnPngError, OnPngWarning);
  if (s.png == nullptr) return Status::Error("PNG: cannot create libpng reader");
  s.info = png_create_info_struct(s.png);
  if (s.info == nullptr) {
    png_destroy_read_struct(&s.png, nullptr, nullptr);
    return Status::Error("PNG: cannot create libpng info struct");
  }
  const bool ok = RunLibpng(&s);
  png_destroy_read_struct(&s.png, &s.info, nullptr);
  if (!s.status.ok()) return s.status;
  if (!ok || s.checksum_failed) return Status::Error(std::string("PNG: ") + s.message);
  if (s.image.height == 0) return Status::Error("PNG: truncated file (no complete header)");
  if (s.rows_done < s.rows_expected) {
    return Status::Error(StrFormat("PNG: truncated image data (%lld of %lld rows decoded)",
                                   static_cast<long long>(s.rows_done),
                                   static_cast<long long>(s.rows_expected)));
  }
  if (s.interlaced) {
    const size_t stride = size_t(s.image.width) * 3;
    for (int y = 0; y < s.image.height; ++y) {
      ConvertRow(s.raw.data() + s.rowbytes * size_t(y), s.image.width, s.color_type, s.bit_depth,
                 s.palette, s.image.rgb.data() + stride * size_t(y));
    }
  }
  return std::move(s.image);
}

}  // namespace dsvl2::image_internal
