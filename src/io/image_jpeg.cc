// JPEG decoding with libjpeg(-turbo), as Pillow 9.4's JpegImagePlugin + convert("RGB"):
//   1 component  -> "L", replicated to RGB
//   3 components -> "RGB" (libjpeg converts YCbCr, or passes RGB through, by its own
//                   colour-space guess from JFIF/Adobe markers; Pillow does not override it)
//   4 components -> "CMYK" read with rawmode "CMYK;I" ("assume adobe conventions": the values
//                   libjpeg returns are inverted; YCCK is converted to CMYK by libjpeg), then
//                   Pillow's cmyk2rgb: nk = 255 - K; R = nk - MULDIV255(C, nk), ...
// libjpeg's defaults (ISLOW IDCT, fancy upsampling) are Pillow's too. No EXIF orientation.
// Running out of data before the last scanline is an error (Pillow: "image file is truncated");
// after it, and libjpeg's other warnings (corrupt-data recovery), are tolerated, as in Pillow.
//
// libjpeg reports errors through error_exit, which must not return: we longjmp back. Objects
// with destructors live outside the function that calls setjmp.
#include <cstdio>  // jpeglib.h needs FILE

#include <jerror.h>
#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <vector>

#include "io/image_internal.h"

namespace dsvl2::image_internal {
namespace {

// Progressive files can carry thousands of tiny scans that each force a full pass over the
// coefficient buffer (a CPU bomb). TurboJPEG's TJFLAG_LIMITSCANS stops at 500; we allow more.
constexpr int kMaxScans = 1000;

struct JpegSession {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
  bool all_rows_read = false;
  Status status;
  Image image;
  std::vector<uint8_t> row;
};

JpegSession* SessionOf(j_common_ptr cinfo) { return static_cast<JpegSession*>(cinfo->client_data); }

void OnErrorExit(j_common_ptr cinfo) {
  JpegSession* s = SessionOf(cinfo);
  (*cinfo->err->format_message)(cinfo, s->message);
  std::longjmp(s->jump, 1);
}

void OnEmitMessage(j_common_ptr cinfo, int msg_level) {
  // msg_level -1 is a warning. Only running out of data is fatal: libjpeg would otherwise pad
  // the image with grey, where Pillow raises "image file is truncated".
  JpegSession* s = SessionOf(cinfo);
  if (msg_level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF && !s->all_rows_read) {
    std::snprintf(s->message, JMSG_LENGTH_MAX, "truncated file (premature end of data)");
    std::longjmp(s->jump, 1);
  }
  if (msg_level == -1) cinfo->err->num_warnings++;
}

void OnOutputMessage(j_common_ptr) {}  // never print

void OnProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number > kMaxScans) {
    std::snprintf(SessionOf(cinfo)->message, JMSG_LENGTH_MAX,
                  "more than %d progressive scans (refused as a likely decompression bomb)",
                  kMaxScans);
    std::longjmp(SessionOf(cinfo)->jump, 1);
  }
}

inline uint8_t MulDiv255(int a, int b) {  // Pillow's MULDIV255 macro
  int tmp = a * b + 128;
  return uint8_t(((tmp >> 8) + tmp) >> 8);
}

void ConvertRow(const uint8_t* in, int width, int components, uint8_t* out) {
  switch (components) {
    case 1:
      for (int x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = in[x];
      break;
    case 3:
      std::copy(in, in + size_t(width) * 3, out);
      break;
    case 4:
      for (int x = 0; x < width; ++x, out += 3, in += 4) {
        // "CMYK;I" unpacking inverts libjpeg's samples; then Convert.c cmyk2rgb.
        const int c = 255 - in[0], m = 255 - in[1], y = 255 - in[2];
        const int nk = in[3];  // 255 - K where K = 255 - in[3]
        out[0] = uint8_t(nk - MulDiv255(c, nk));
        out[1] = uint8_t(nk - MulDiv255(m, nk));
        out[2] = uint8_t(nk - MulDiv255(y, nk));
      }
      break;
  }
}

// Returns false with s->message or s->status set on failure. Only trivial locals.
bool RunLibjpeg(JpegSession* s, const uint8_t* data, size_t size, const DecodeOptions* options) {
  if (setjmp(s->jump)) return false;
  jpeg_decompress_struct* cinfo = &s->cinfo;
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  const int components = cinfo->num_components;
  switch (components) {
    case 1:
      cinfo->out_color_space = JCS_GRAYSCALE;
      break;
    case 3:
      cinfo->out_color_space = JCS_RGB;
      break;
    case 4:
      cinfo->out_color_space = JCS_CMYK;
      break;
    default:
      std::snprintf(s->message, JMSG_LENGTH_MAX, "cannot handle %d-component images", components);
      return false;
  }
  s->status = AllocateImage("JPEG", cinfo->image_width, cinfo->image_height, *options, &s->image);
  if (!s->status.ok()) return false;
  jpeg_start_decompress(cinfo);
  if (int(cinfo->output_width) != s->image.width || int(cinfo->output_height) != s->image.height ||
      cinfo->output_components != components) {
    std::snprintf(s->message, JMSG_LENGTH_MAX, "unexpected output geometry");
    return false;
  }
  s->row.resize(size_t(cinfo->output_width) * components);
  const size_t stride = size_t(s->image.width) * 3;
  while (cinfo->output_scanline < cinfo->output_height) {
    const JDIMENSION y = cinfo->output_scanline;
    JSAMPROW rows[1] = {s->row.data()};
    if (jpeg_read_scanlines(cinfo, rows, 1) != 1) {
      std::snprintf(s->message, JMSG_LENGTH_MAX, "decoder returned no scanline");
      return false;
    }
    ConvertRow(s->row.data(), s->image.width, components, s->image.rgb.data() + stride * y);
  }
  // Pillow's decoder returns once every scanline is out, even if jpeg_finish_decompress would
  // need more data to reach EOI; so running out of data from here on is not an error.
  s->all_rows_read = true;
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

StatusOr<Image> DecodeJpeg(const uint8_t* data, size_t size, const DecodeOptions& options) {
  JpegSession s;
  s.cinfo.err = jpeg_std_error(&s.err);
  s.err.error_exit = OnErrorExit;
  s.err.emit_message = OnEmitMessage;
  s.err.output_message = OnOutputMessage;
  s.cinfo.client_data = &s;
  // jpeg_create_decompress can itself fail (error_exit), so it runs under its own setjmp.
  if (setjmp(s.jump)) {
    return Status::Error(std::string("JPEG: ") + s.message);
  }
  jpeg_create_decompress(&s.cinfo);
  s.cinfo.client_data = &s;  // jpeg_create_decompress clears the struct but keeps err
  s.progress.progress_monitor = OnProgress;
  s.cinfo.progress = &s.progress;
  const bool ok = RunLibjpeg(&s, data, size, &options);
  jpeg_destroy_decompress(&s.cinfo);
  if (ok) return std::move(s.image);
  if (!s.status.ok()) return s.status;
  return Status::Error(std::string("JPEG: ") + s.message);
}

}  // namespace dsvl2::image_internal
