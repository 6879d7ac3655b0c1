// WebP decoding with libwebp, as Pillow 9.4's WebPImagePlugin + convert("RGB"). Pillow decodes
// through WebPAnimDecoder (MODE_RGBA, not premultiplied) even for still images, so:
//   - still images: the RGB that WebPDecodeRGB gives (alpha dropped, never composited);
//   - animated images: the first frame, written unblended onto a canvas of the VP8X size that
//     starts as transparent black (anim_decode.c ZeroFillCanvas; the ANIM background colour is
//     ignored), so pixels outside the first frame are (0, 0, 0).
// The project links libwebp only (not libwebpdemux), so the few RIFF fields needed for animation
// are parsed here, bounds-checked.
#include <webp/decode.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "io/image_internal.h"

namespace dsvl2::image_internal {
namespace {

const char* Vp8StatusText(VP8StatusCode code) {
  switch (code) {
    case VP8_STATUS_OK:
      return "ok";
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "truncated file (not enough data)";
  }
  return "unknown error";
}

uint32_t Le24(const uint8_t* p) { return p[0] | (p[1] << 8) | (uint32_t(p[2]) << 16); }
uint32_t Le32(const uint8_t* p) { return Le24(p) | (uint32_t(p[3]) << 24); }

// Decodes a still bitstream into caller-owned memory; returns libwebp's status.
VP8StatusCode DecodeInto(const uint8_t* data, size_t size, WEBP_CSP_MODE mode, uint8_t* out,
                         size_t out_size, int stride) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return VP8_STATUS_INVALID_PARAM;
  config.output.colorspace = mode;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = out;
  config.output.u.RGBA.stride = stride;
  config.output.u.RGBA.size = out_size;
  const VP8StatusCode code = WebPDecode(data, size, &config);
  WebPFreeDecBuffer(&config.output);  // no-op for external memory
  return code;
}

struct Chunk {
  const uint8_t* payload = nullptr;
  size_t size = 0;
};

// Finds the first chunk with the given tag among the top-level chunks of a RIFF/WEBP file.
bool FindChunk(const uint8_t* data, size_t size, const char* tag, Chunk* out) {
  size_t riff_end = size;
  if (size >= 8) riff_end = std::min(size, size_t(Le32(data + 4)) + 8);
  size_t pos = 12;
  while (pos + 8 <= riff_end) {
    const uint32_t len = Le32(data + pos + 4);
    if (len > riff_end - pos - 8) return false;  // chunk overruns the file
    if (std::memcmp(data + pos, tag, 4) == 0) {
      *out = {data + pos + 8, len};
      return true;
    }
    pos += 8 + size_t(len) + (len & 1);
  }
  return false;
}

StatusOr<Image> DecodeFirstFrame(const uint8_t* data, size_t size, const DecodeOptions& options) {
  Chunk vp8x, anmf;
  if (!FindChunk(data, size, "VP8X", &vp8x) || vp8x.size < 10) {
    return Status::Error("WebP: animated file without a valid VP8X chunk");
  }
  const int64_t canvas_w = int64_t(Le24(vp8x.payload + 4)) + 1;
  const int64_t canvas_h = int64_t(Le24(vp8x.payload + 7)) + 1;
  Image image;
  RETURN_IF_ERROR(AllocateImage("WebP", canvas_w, canvas_h, options, &image));
  if (!FindChunk(data, size, "ANMF", &anmf) || anmf.size < 16) {
    return Status::Error("WebP: animated file without a frame (ANMF chunk missing or truncated)");
  }
  const int64_t fx = int64_t(Le24(anmf.payload)) * 2, fy = int64_t(Le24(anmf.payload + 3)) * 2;
  const int64_t fw = int64_t(Le24(anmf.payload + 6)) + 1, fh = int64_t(Le24(anmf.payload + 9)) + 1;
  if (fx + fw > canvas_w || fy + fh > canvas_h) {
    return Status::Error(
        StrFormat("WebP: first frame %lldx%lld at (%lld,%lld) exceeds the %lldx%lld "
                  "canvas",
                  (long long)fw, (long long)fh, (long long)fx, (long long)fy, (long long)canvas_w,
                  (long long)canvas_h));
  }
  // The frame payload (optional ALPH, then VP8/VP8L) is a stream WebPDecode accepts directly.
  const uint8_t* frame = anmf.payload + 16;
  const size_t frame_size = anmf.size - 16;
  int w = 0, h = 0;
  if (!WebPGetInfo(frame, frame_size, &w, &h) || w != fw || h != fh) {
    return Status::Error("WebP: first animation frame is corrupt or its size disagrees with ANMF");
  }
  std::vector<uint8_t> rgba(size_t(w) * size_t(h) * 4);
  const VP8StatusCode code =
      DecodeInto(frame, frame_size, MODE_RGBA, rgba.data(), rgba.size(), w * 4);
  if (code != VP8_STATUS_OK) {
    return Status::Error(std::string("WebP: cannot decode the first animation frame: ") +
                         Vp8StatusText(code));
  }
  for (int y = 0; y < h; ++y) {
    uint8_t* out = image.rgb.data() + ((fy + y) * canvas_w + fx) * 3;
    const uint8_t* in = rgba.data() + size_t(y) * w * 4;
    for (int x = 0; x < w; ++x, out += 3, in += 4) {
      out[0] = in[0];
      out[1] = in[1];
      out[2] = in[2];
    }
  }
  return image;
}

}  // namespace

StatusOr<Image> DecodeWebp(const uint8_t* data, size_t size, const DecodeOptions& options) {
  WebPBitstreamFeatures features;
  const VP8StatusCode code = WebPGetFeatures(data, size, &features);
  if (code != VP8_STATUS_OK) {
    return Status::Error(std::string("WebP: cannot read header: ") + Vp8StatusText(code));
  }
  if (features.has_animation) return DecodeFirstFrame(data, size, options);
  Image image;
  RETURN_IF_ERROR(AllocateImage("WebP", features.width, features.height, options, &image));
  const VP8StatusCode decoded =
      DecodeInto(data, size, MODE_RGB, image.rgb.data(), image.rgb.size(), image.width * 3);
  if (decoded != VP8_STATUS_OK) {
    return Status::Error(std::string("WebP: cannot decode image: ") + Vp8StatusText(decoded));
  }
  return image;
}

}  // namespace dsvl2::image_internal
