#include "io/png_write.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <new>

namespace dsvl2 {
namespace {

// State shared with the libpng callbacks. Plain data: libpng longjmps across frames that hold it.
struct EncodeContext {
  std::vector<uint8_t>* out = nullptr;
  char error[256] = {0};
};

void OnPngError(png_structp png, png_const_charp message) {
  auto* ctx = static_cast<EncodeContext*>(png_get_error_ptr(png));
  if (ctx != nullptr) {
    std::snprintf(ctx->error, sizeof(ctx->error), "%s", message ? message : "unknown error");
  }
  png_longjmp(png, 1);
}

void OnPngWarning(png_structp, png_const_charp) {}

// Appends without letting an exception reach libpng's C frames.
bool AppendBytes(std::vector<uint8_t>* out, const uint8_t* data, size_t n) noexcept {
  try {
    out->insert(out->end(), data, data + n);
    return true;
  } catch (...) {
    return false;
  }
}

void OnPngWrite(png_structp png, png_bytep data, png_size_t length) {
  auto* ctx = static_cast<EncodeContext*>(png_get_io_ptr(png));
  if (!AppendBytes(ctx->out, data, length)) png_error(png, "out of memory");
}

void OnPngFlush(png_structp) {}

// Runs libpng. No object with a destructor lives in this frame, so longjmp out of libpng back
// to the setjmp below is well-defined. png and info are not modified after setjmp.
bool EncodeWithLibpng(EncodeContext* ctx, int width, int height, const uint8_t* rgb, int level) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, OnPngError, OnPngWarning);
  if (png == nullptr) {
    std::snprintf(ctx->error, sizeof(ctx->error), "png_create_write_struct failed");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(ctx->error, sizeof(ctx->error), "png_create_info_struct failed");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, ctx, OnPngWrite, OnPngFlush);
  png_set_compression_level(png, level);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(width) * 3;
  for (int y = 0; y < height; ++y) {
    png_write_row(png, const_cast<png_bytep>(rgb + static_cast<size_t>(y) * stride));
  }
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

StatusOr<std::vector<uint8_t>> EncodePng(int width, int height, const uint8_t* rgb,
                                         const PngWriteOptions& options) {
  if (width <= 0 || height <= 0) {
    return Status::Error(StrFormat("EncodePng: invalid image size %dx%d", width, height));
  }
  if (rgb == nullptr) return Status::Error("EncodePng: null pixel buffer");
  // PNG limits each dimension to 2^31-1; libpng additionally rejects > 1,000,000 by default.
  const uint64_t bytes = static_cast<uint64_t>(width) * static_cast<uint64_t>(height) * 3;
  if (bytes > static_cast<uint64_t>(PTRDIFF_MAX)) {
    return Status::Error(StrFormat("EncodePng: image %dx%d is too large", width, height));
  }
  std::vector<uint8_t> out;
  EncodeContext ctx;
  ctx.out = &out;
  try {
    out.reserve(static_cast<size_t>(std::min<uint64_t>(bytes / 4 + 1024, uint64_t{64} << 20)));
  } catch (const std::bad_alloc&) {
    return Status::Error("EncodePng: out of memory");
  }
  const int level = std::clamp(options.compression_level, 0, 9);
  if (!EncodeWithLibpng(&ctx, width, height, rgb, level)) {
    return Status::Error(StrFormat("EncodePng: libpng error: %s", ctx.error));
  }
  return out;
}

Status WritePng(const std::string& path, int width, int height, const uint8_t* rgb,
                const PngWriteOptions& options) {
  StatusOr<std::vector<uint8_t>> png = EncodePng(width, height, rgb, options);
  if (!png.ok()) return png.status().WithContext("writing " + path);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return Status::Error(
        StrFormat("WritePng: cannot open %s: %s", path.c_str(), std::strerror(errno)));
  }
  const std::vector<uint8_t>& bytes = png.value();
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  const int write_errno = errno;
  const bool close_ok = std::fclose(f) == 0;
  if (written != bytes.size()) {
    return Status::Error(
        StrFormat("WritePng: short write to %s: %s", path.c_str(), std::strerror(write_errno)));
  }
  if (!close_ok) {
    return Status::Error(
        StrFormat("WritePng: closing %s failed: %s", path.c_str(), std::strerror(errno)));
  }
  return Status::Ok();
}

}  // namespace dsvl2
