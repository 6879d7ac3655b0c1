// GIF decoding with giflib (first frame only), as Pillow 9.4's GifImagePlugin + convert("RGB"):
//   - the image is the logical screen, enlarged when the first frame reaches past it;
//   - pixels outside the first frame hold the frame's transparent index when its Graphic
//     Control Extension sets one, else index 0 (load_prepare / ImageFile.load);
//   - colours come from the local colour table, else the global one, else index i -> (i, i, i);
//     indices past the table also give (i, i, i) (Pillow's palette default); transparency is
//     dropped, not composited;
//   - image data that ends before the frame is complete is an error ("image file is
//     truncated"), but a missing block terminator or trailer after complete data is not.
#include <gif_lib.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "io/image_internal.h"

namespace dsvl2::image_internal {
namespace {

struct GifSource {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  bool gave_terminator = false;
};

// giflib input callback. At end of file it supplies one synthetic zero byte, a block terminator:
// after the last row giflib skips the rest of the image data up to a terminator, which Pillow
// does not require. Inside the LZW data a zero-length block is an error for giflib anyway.
int ReadGif(GifFileType* gif, GifByteType* out, int len) {
  auto* src = static_cast<GifSource*>(gif->UserData);
  if (len <= 0) return 0;
  const size_t left = src->size - src->pos;
  if (left == 0) {
    if (src->gave_terminator) return 0;
    src->gave_terminator = true;
    out[0] = 0;
    return 1;
  }
  const size_t n = std::min(left, size_t(len));
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
  return int(n);
}

Status GifError(const char* what, int code) {
  const char* detail = GifErrorString(code);
  return Status::Error(StrFormat("GIF: %s: %s", what, detail != nullptr ? detail : "error"));
}

struct GifCloser {
  GifFileType* gif;
  ~GifCloser() {
    int err = 0;
    if (gif != nullptr) DGifCloseFile(gif, &err);
  }
};

void SetPalette(const ColorMapObject* map, Palette256* palette) {
  if (map == nullptr || map->Colors == nullptr) return;
  for (int i = 0; i < map->ColorCount && i < 256; ++i) {
    palette->Set(i, map->Colors[i].Red, map->Colors[i].Green, map->Colors[i].Blue);
  }
}

}  // namespace

StatusOr<Image> DecodeGif(const uint8_t* data, size_t size, const DecodeOptions& options) {
  GifSource src{data, size, 0, false};
  int err = 0;
  GifFileType* gif = DGifOpen(&src, ReadGif, &err);
  if (gif == nullptr) return GifError("cannot read header", err);
  GifCloser closer{gif};

  int transparent = -1;  // from a Graphic Control Extension before the first image
  for (;;) {
    GifRecordType type = UNDEFINED_RECORD_TYPE;
    if (DGifGetRecordType(gif, &type) == GIF_ERROR) return GifError("bad record", gif->Error);
    if (type == TERMINATE_RECORD_TYPE) return Status::Error("GIF: file contains no image");
    if (type == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* ext = nullptr;
      if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) {
        return GifError("bad extension block", gif->Error);
      }
      if (code == GRAPHICS_EXT_FUNC_CODE && ext != nullptr && ext[0] >= 4 && (ext[1] & 1)) {
        transparent = ext[4];
      }
      while (ext != nullptr) {
        if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) {
          return GifError("bad extension block", gif->Error);
        }
      }
      continue;
    }
    if (type == IMAGE_DESC_RECORD_TYPE) break;
  }
  if (DGifGetImageDesc(gif) == GIF_ERROR) return GifError("bad image descriptor", gif->Error);
  const GifImageDesc& desc = gif->Image;
  if (desc.Width <= 0 || desc.Height <= 0) {
    return Status::Error(
        StrFormat("GIF: first frame has zero size (%dx%d)", desc.Width, desc.Height));
  }
  const int64_t x0 = desc.Left, y0 = desc.Top;
  const int64_t width = std::max<int64_t>(gif->SWidth, x0 + desc.Width);
  const int64_t height = std::max<int64_t>(gif->SHeight, y0 + desc.Height);
  Image image;
  RETURN_IF_ERROR(AllocateImage("GIF", width, height, options, &image));

  Palette256 palette;
  SetPalette(desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap, &palette);

  // Canvas outside the frame: the transparent index, else index 0.
  uint8_t fill[3];
  palette.Put(uint8_t(transparent >= 0 ? transparent : 0), fill);
  for (size_t i = 0; i < image.rgb.size(); i += 3) std::memcpy(&image.rgb[i], fill, 3);

  std::vector<GifPixelType> line(size_t(desc.Width));
  auto put_row = [&](int64_t frame_row) {
    uint8_t* out = image.rgb.data() + (size_t(y0 + frame_row) * size_t(width) + size_t(x0)) * 3;
    for (int x = 0; x < desc.Width; ++x, out += 3) palette.Put(line[size_t(x)], out);
  };
  if (desc.Interlace) {
    static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int64_t r = kStart[pass]; r < desc.Height; r += kStep[pass]) {
        if (DGifGetLine(gif, line.data(), desc.Width) == GIF_ERROR) {
          return GifError("image data truncated or corrupt", gif->Error);
        }
        put_row(r);
      }
    }
  } else {
    for (int64_t r = 0; r < desc.Height; ++r) {
      if (DGifGetLine(gif, line.data(), desc.Width) == GIF_ERROR) {
        return GifError("image data truncated or corrupt", gif->Error);
      }
      put_row(r);
    }
  }
  return image;
}

}  // namespace dsvl2::image_internal
