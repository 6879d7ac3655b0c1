// Image decoding to RGB8, matching what the official processor sees: it opens every image with
// `PIL.Image.open(path).convert("RGB")` (spec §4 step 0). So, like Pillow 9.4:
//   - alpha is dropped, never composited (RGBA, LA, tRNS, WebP alpha, GIF transparency);
//   - grey is replicated to R=G=B; 1/2/4-bit grey is scaled (x255, x85, x17);
//   - palette indices beyond the palette map to (i, i, i) (Pillow's default palette ramp);
//   - 16-bit channels keep their high byte, except 16-bit greyscale PNG, which Pillow opens as
//     mode "I" and clips to 0..255 when converting to RGB (so 300 -> 255, not 1);
//   - CMYK/YCCK JPEGs are read with Adobe (inverted) polarity and converted with Pillow's
//     cmyk2rgb formula; no ICC colour management;
//   - no EXIF orientation, no gamma correction;
//   - GIF and WebP: first frame only, composited on the canvas as Pillow does (see image_gif.cc,
//     image_webp.cc);
//   - truncated image data is an error (Pillow raises "image file is truncated").
// Corrupt input of any kind gives a Status naming the format and the problem; nothing here
// aborts, asserts or prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsvl2 {

// An RGB8 image, row-major, 3 bytes per pixel, no row padding.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3
};

enum class ImageFormat { kUnknown, kPng, kJpeg, kWebp, kBmp, kGif };

const char* ImageFormatName(ImageFormat f);  // "PNG", "JPEG", ...

// Sniffs the format from the leading bytes (the same signatures Pillow's plugins accept).
ImageFormat DetectImageFormat(const uint8_t* data, size_t size);

// Pillow's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS). Pillow only warns between this
// and twice this and raises above; we refuse everything above max_pixels.
inline constexpr int64_t kDefaultMaxImagePixels = 89478485;

struct DecodeOptions {
  // Images with width * height above this are refused before any pixel buffer is allocated.
  int64_t max_pixels = kDefaultMaxImagePixels;
};

// Decodes PNG, JPEG, WebP, BMP or GIF from memory into RGB8.
StatusOr<Image> DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options = {});

// Reads (memory-maps) a file and decodes it; errors are prefixed with the path.
StatusOr<Image> LoadImageFile(const std::string& path, const DecodeOptions& options = {});

}  // namespace dsvl2
