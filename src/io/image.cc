// Format detection, the size guard shared by all decoders, and file loading.
#include "io/image.h"

#include <cstring>
#include <memory>
#include <new>

#include "io/image_internal.h"
#include "io/mapped_file.h"

namespace dsvl2 {

const char* ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

ImageFormat DetectImageFormat(const uint8_t* data, size_t size) {
  auto starts = [&](const char* sig, size_t n, size_t at = 0) {
    return size >= at + n && std::memcmp(data + at, sig, n) == 0;
  };
  // Signatures as accepted by Pillow's _accept() functions.
  if (starts("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (starts("\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return ImageFormat::kGif;
  if (starts("BM", 2)) return ImageFormat::kBmp;
  if (starts("RIFF", 4) && starts("WEBP", 4, 8)) return ImageFormat::kWebp;
  return ImageFormat::kUnknown;
}

namespace image_internal {

Status AllocateImage(const char* format, int64_t width, int64_t height,
                     const DecodeOptions& options, Image* out) {
  if (width <= 0 || height <= 0) {
    return Status::Error(StrFormat("%s: invalid image size %lldx%lld", format,
                                   static_cast<long long>(width), static_cast<long long>(height)));
  }
  // Both factors are below 2^32 for every format, so the product cannot overflow int64.
  if (width > INT32_MAX || height > INT32_MAX || width * height > options.max_pixels) {
    return Status::Error(StrFormat(
        "%s: image %lldx%lld has more pixels than the limit of %lld (decompression bomb guard)",
        format, static_cast<long long>(width), static_cast<long long>(height),
        static_cast<long long>(options.max_pixels)));
  }
  out->width = static_cast<int>(width);
  out->height = static_cast<int>(height);
  try {
    out->rgb.assign(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 0);
  } catch (const std::bad_alloc&) {
    return Status::Error(StrFormat("%s: out of memory for a %lldx%lld image", format,
                                   static_cast<long long>(width), static_cast<long long>(height)));
  }
  return Status::Ok();
}

}  // namespace image_internal

StatusOr<Image> DecodeImage(const uint8_t* data, size_t size, const DecodeOptions& options) {
  if (data == nullptr || size == 0) return Status::Error("image: empty input");
  switch (DetectImageFormat(data, size)) {
    case ImageFormat::kPng:
      return image_internal::DecodePng(data, size, options);
    case ImageFormat::kJpeg:
      return image_internal::DecodeJpeg(data, size, options);
    case ImageFormat::kWebp:
      return image_internal::DecodeWebp(data, size, options);
    case ImageFormat::kBmp:
      return image_internal::DecodeBmp(data, size, options);
    case ImageFormat::kGif:
      return image_internal::DecodeGif(data, size, options);
    case ImageFormat::kUnknown:
      break;
  }
  return Status::Error(
      "image: unrecognised format (supported: PNG, JPEG, WebP, BMP, GIF; checked the leading "
      "signature bytes)");
}

StatusOr<Image> LoadImageFile(const std::string& path, const DecodeOptions& options) {
  auto file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  StatusOr<Image> image = DecodeImage((*file)->data(), (*file)->size(), options);
  if (!image.ok()) return image.status().WithContext(path);
  return image;
}

}  // namespace dsvl2
