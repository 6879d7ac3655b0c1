// Shared pieces of the per-format decoders behind DecodeImage (io/image.h). Not a public API.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"
#include "io/image.h"

namespace dsvl2::image_internal {

// Checks 0 < width, height and width * height <= options.max_pixels, then sizes out->rgb.
// Every decoder calls this before allocating anything proportional to the image size.
Status AllocateImage(const char* format, int64_t width, int64_t height,
                     const DecodeOptions& options, Image* out);

// A 256-entry RGB palette, initialised the way Pillow initialises a "P" image's palette
// (ImagingPaletteNew: entry i = (i, i, i)); a file's palette overwrites the first entries, so an
// index past the file's palette decodes to grey i, as Pillow's convert("RGB") does.
struct Palette256 {
  uint8_t rgb[256 * 3];
  Palette256() {
    for (int i = 0; i < 256; ++i) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = uint8_t(i);
  }
  void Set(int i, uint8_t r, uint8_t g, uint8_t b) {
    rgb[3 * i] = r;
    rgb[3 * i + 1] = g;
    rgb[3 * i + 2] = b;
  }
  void Put(uint8_t index, uint8_t* out) const {
    out[0] = rgb[3 * index];
    out[1] = rgb[3 * index + 1];
    out[2] = rgb[3 * index + 2];
  }
};

StatusOr<Image> DecodePng(const uint8_t* data, size_t size, const DecodeOptions& options);
StatusOr<Image> DecodeJpeg(const uint8_t* data, size_t size, const DecodeOptions& options);
StatusOr<Image> DecodeWebp(const uint8_t* data, size_t size, const DecodeOptions& options);
StatusOr<Image> DecodeBmp(const uint8_t* data, size_t size, const DecodeOptions& options);
StatusOr<Image> DecodeGif(const uint8_t* data, size_t size, const DecodeOptions& options);

}  // namespace dsvl2::image_internal
