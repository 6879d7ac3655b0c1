// BMP decoding (own parser, every read bounds-checked), following Pillow 9.4's BmpImagePlugin +
// convert("RGB"):
//   - headers: OS/2 v1 (12 bytes; 3-byte palette entries) and Windows 40/64/108/124 bytes; the
//     image is top-down when the height's top byte is 0xFF, bottom-up otherwise;
//   - depths 1/4/8 (palette, "P;1"/"P;4"/"P"), 16 (default X1R5G5B5, "BGR;15"), 24 ("BGR"),
//     32 (default "BGRX"); BI_BITFIELDS on 16/24/32 bits with contiguous masks (Pillow accepts a
//     fixed list of layouts, all of which decode identically here; we also take other
//     contiguous ones). A channel of n <= 8 bits scales as v * 255 / (2^n - 1) (integer division,
//     as Unpack.c's BGR;15/BGR;16), wider channels keep their top 8 bits; alpha is dropped;
//   - the palette has biClrUsed entries (2^bits when 0), read right after the header (4 bytes
//     each, 3 for OS/2 v1); indices past it decode to (i, i, i), like Pillow's palette default;
//   - rows are padded to 4 bytes; pixel data starts at bfOffBits (Pillow's adjustments for 0 and
//     for an offset that leaves no room for the palette are replicated);
//   - RLE8/RLE4 as Pillow's BmpRleDecoder (linear output, end-of-line pads to the row end,
//     encoded runs clipped to the row), except that the delta escape reads its two bytes as the
//     spec says (Pillow 9.4 consumes four) and an explicit end-of-bitmap leaves the rest index 0
//     (Pillow errors); running out of data before the image is complete is an error.
// Truncated pixel data is an error, as in Pillow ("image file is truncated").
#include <bit>
#include <cstring>
#include <vector>

#include "io/image_internal.h"

namespace dsvl2::image_internal {
namespace {

constexpr uint32_t kRaw = 0, kRle8 = 1, kRle4 = 2, kBitfields = 3;

uint16_t U16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t U32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24);
}

Status BmpError(const std::string& what) { return Status::Error("BMP: " + what); }

// One channel described by a bit mask.
struct MaskChannel {
  uint32_t mask = 0;
  int shift = 0;
  int bits = 0;
  uint8_t Extract(uint32_t pixel) const {
    if (bits == 0) return 0;
    const uint32_t v = (pixel & mask) >> shift;
    if (bits <= 8) return uint8_t(v * 255 / ((1u << bits) - 1));
    return uint8_t(v >> (bits - 8));
  }
};

bool MakeChannel(uint32_t mask, MaskChannel* out) {
  out->mask = mask;
  if (mask == 0) return true;
  out->shift = std::countr_zero(mask);
  out->bits = std::popcount(mask);
  return std::countr_one(mask >> out->shift) == out->bits;  // contiguous
}

struct BmpInfo {
  int64_t width = 0, height = 0;
  bool top_down = false;
  int bits = 0;
  uint32_t compression = kRaw;
  uint32_t masks[3] = {0, 0, 0};  // r, g, b (BI_BITFIELDS)
  size_t palette_pos = 0;         // file offset of the palette
  int palette_entry = 4;          // bytes per palette entry
  int64_t colors = 0;
  size_t data_pos = 0;
};

Status ParseHeaders(const uint8_t* data, size_t size, BmpInfo* info) {
  if (size < 18) return BmpError("truncated file header");
  const uint32_t offset = U32(data + 10);
  const uint32_t header_size = U32(data + 14);
  if (header_size != 12 && header_size != 40 && header_size != 64 && header_size != 108 &&
      header_size != 124) {
    return BmpError(StrFormat("unsupported header type (size %u)", header_size));
  }
  if (size < 14 + size_t(header_size)) return BmpError("truncated info header");
  const uint8_t* h = data + 18;  // header after its size field (Pillow's header_data)
  size_t pos = 14 + header_size;
  if (header_size == 12) {
    info->width = U16(h);
    info->height = U16(h + 2);
    info->bits = U16(h + 6);
    info->palette_entry = 3;
  } else {
    info->top_down = h[7] == 0xFF;
    info->width = U32(h);
    const uint32_t raw_height = U32(h + 4);
    info->height = info->top_down ? int64_t(0x100000000LL - raw_height) : int64_t(raw_height);
    info->bits = U16(h + 10);
    info->compression = U32(h + 12);
    info->colors = U32(h + 28);
    if (info->compression == kBitfields) {
      if (header_size >= 52) {
        for (int i = 0; i < 3; ++i) info->masks[i] = U32(h + 36 + 4 * i);
      } else {  // 40-byte header: the three masks follow it
        if (size < pos + 12) return BmpError("truncated bitfield masks");
        for (int i = 0; i < 3; ++i) info->masks[i] = U32(data + pos + 4 * i);
        pos += 12;
      }
    }
  }
  if (info->colors == 0) info->colors = info->bits <= 8 ? (int64_t(1) << info->bits) : 0;
  info->palette_pos = pos;
  size_t data_pos = offset;
  if (offset == 14 + header_size && info->bits <= 8) data_pos += 4 * size_t(info->colors);
  if (info->bits != 1 && info->bits != 4 && info->bits != 8 && info->bits != 16 &&
      info->bits != 24 && info->bits != 32) {
    return BmpError(StrFormat("unsupported pixel depth (%d bits)", info->bits));
  }
  switch (info->compression) {
    case kRaw:
      break;
    case kBitfields:
      if (info->bits < 16) return BmpError("unsupported bitfields layout (palette image)");
      break;
    case kRle8:
    case kRle4:
      if (info->bits != (info->compression == kRle8 ? 8 : 4)) {
        return BmpError(StrFormat("RLE%d compression with %d bits per pixel",
                                  info->compression == kRle8 ? 8 : 4, info->bits));
      }
      break;
    default:
      return BmpError(StrFormat("unsupported compression (%u)", info->compression));
  }
  if (info->bits <= 8) {
    if (info->colors <= 0 || info->colors > 65536) {
      return BmpError(StrFormat("unsupported palette size (%lld)", (long long)info->colors));
    }
    pos += size_t(info->colors) * info->palette_entry;  // where Pillow's file pointer ends up
  }
  info->data_pos = offset != 0 ? data_pos : pos;
  return Status::Ok();
}

void ReadPalette(const uint8_t* data, size_t size, const BmpInfo& info, Palette256* palette) {
  const size_t entry = size_t(info.palette_entry);
  for (int64_t i = 0; i < info.colors && i < 256; ++i) {
    const size_t at = info.palette_pos + size_t(i) * entry;
    if (at + entry > size) break;  // Pillow's read() comes back short at end of file
    palette->Set(int(i), data[at + 2], data[at + 1], data[at]);  // stored B, G, R(, X)
  }
}

// Decodes uncompressed rows.
Status DecodeRaw(const uint8_t* data, size_t size, const BmpInfo& info, const Palette256& palette,
                 Image* image) {
  const size_t stride = size_t(((info.width * info.bits + 31) >> 3) & ~int64_t(3));
  const size_t height = size_t(info.height);
  if (info.data_pos > size || (size - info.data_pos) / stride < height) {
    return BmpError(
        StrFormat("pixel data truncated (need %zu rows of %zu bytes at offset %zu, "
                  "file has %zu bytes)",
                  height, stride, info.data_pos, size));
  }
  MaskChannel ch[3];
  bool use_masks = false;
  if (info.compression == kBitfields && (info.masks[0] | info.masks[1] | info.masks[2]) != 0) {
    for (int i = 0; i < 3; ++i) {
      if (!MakeChannel(info.masks[i], &ch[i])) {
        return BmpError(StrFormat("unsupported bitfields layout (mask 0x%x)", info.masks[i]));
      }
    }
    use_masks = true;
  } else if (info.bits == 16) {  // X1R5G5B5
    MakeChannel(0x7C00, &ch[0]);
    MakeChannel(0x03E0, &ch[1]);
    MakeChannel(0x001F, &ch[2]);
    use_masks = true;
  }
  const int width = image->width;
  for (size_t r = 0; r < height; ++r) {
    const uint8_t* in = data + info.data_pos + r * stride;
    const size_t y = info.top_down ? r : height - 1 - r;
    uint8_t* out = image->rgb.data() + y * size_t(width) * 3;
    for (int x = 0; x < width; ++x, out += 3) {
      switch (info.bits) {
        case 1:
          palette.Put((in[x >> 3] >> (7 - (x & 7))) & 1, out);
          continue;
        case 4:
          palette.Put((in[x >> 1] >> ((x & 1) ? 0 : 4)) & 15, out);
          continue;
        case 8:
          palette.Put(in[x], out);
          continue;
        default:
          break;
      }
      const size_t bytes = size_t(info.bits) / 8;
      const uint8_t* p = in + size_t(x) * bytes;
      if (!use_masks) {  // BGR / BGRX
        out[0] = p[2];
        out[1] = p[1];
        out[2] = p[0];
        continue;
      }
      uint32_t pixel = 0;
      for (size_t b = 0; b < bytes; ++b) pixel |= uint32_t(p[b]) << (8 * b);
      for (int c = 0; c < 3; ++c) out[c] = ch[c].Extract(pixel);
    }
  }
  return Status::Ok();
}

// RLE8/RLE4 into a linear index buffer, following Pillow's BmpRleDecoder (see file comment).
Status DecodeRle(const uint8_t* data, size_t size, const BmpInfo& info, const Palette256& palette,
                 Image* image) {
  const bool rle4 = info.compression == kRle4;
  const size_t width = size_t(image->width), total = width * size_t(image->height);
  std::vector<uint8_t> idx(total, 0);
  size_t n = 0;  // pixels emitted so far (linear, in file row order)
  size_t x = 0;
  size_t pos = info.data_pos;
  auto emit = [&](uint8_t v) {
    if (n < total) idx[n] = v;
    ++n;
  };
  bool complete_or_ended = false;
  while (n < total) {
    if (pos > size || size - pos < 2) break;  // out of data
    const uint8_t count = data[pos], byte = data[pos + 1];
    pos += 2;
    if (count != 0) {  // encoded run, clipped to the row
      size_t run = count;
      if (x + run > width) run = width > x ? width - x : 0;
      for (size_t i = 0; i < run; ++i) emit(rle4 ? ((i % 2 == 0) ? byte >> 4 : byte & 15) : byte);
      x += run;
    } else if (byte == 0) {  // end of line
      while (n % width != 0) emit(0);
      x = 0;
    } else if (byte == 1) {  // end of bitmap
      complete_or_ended = true;
      break;
    } else if (byte == 2) {  // delta: right, up
      if (size - pos < 2) break;
      const size_t skip = size_t(data[pos]) + size_t(data[pos + 1]) * width;
      pos += 2;
      n = std::min(total, n + skip);  // the skipped pixels are index 0
      x = n % width;
    } else {  // absolute run of `byte` pixels
      const size_t want = rle4 ? (size_t(byte) + 1) / 2 : byte;
      if (size - pos < want) break;
      for (size_t i = 0; i < byte; ++i) {
        const uint8_t b = data[pos + (rle4 ? i / 2 : i)];
        emit(rle4 ? ((i % 2 == 0) ? b >> 4 : b & 15) : b);
      }
      pos += want;
      x += byte;
      if (pos % 2 != 0) ++pos;  // runs are padded to 16 bits (file offset parity, as Pillow)
    }
  }
  if (n < total && !complete_or_ended) {
    return BmpError(
        StrFormat("RLE data ends before the image is complete (%zu of %zu pixels)", n, total));
  }
  const size_t height = size_t(image->height);
  for (size_t r = 0; r < height; ++r) {
    const size_t y = info.top_down ? r : height - 1 - r;
    uint8_t* out = image->rgb.data() + y * width * 3;
    for (size_t i = 0; i < width; ++i, out += 3) palette.Put(idx[r * width + i], out);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<Image> DecodeBmp(const uint8_t* data, size_t size, const DecodeOptions& options) {
  BmpInfo info;
  RETURN_IF_ERROR(ParseHeaders(data, size, &info));
  Image image;
  RETURN_IF_ERROR(AllocateImage("BMP", info.width, info.height, options, &image));
  Palette256 palette;
  if (info.bits <= 8) ReadPalette(data, size, info, &palette);
  if (info.compression == kRle8 || info.compression == kRle4) {
    RETURN_IF_ERROR(DecodeRle(data, size, info, palette, &image));
  } else {
    RETURN_IF_ERROR(DecodeRaw(data, size, info, palette, &image));
  }
  return image;
}

}  // namespace dsvl2::image_internal
