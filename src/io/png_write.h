// PNG encoding of RGB8 images with libpng. Errors (bad size, libpng failure, I/O) come back as
// Status; libpng's longjmp-based error handling is contained in png_write.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsvl2 {

struct PngWriteOptions {
  int compression_level = 6;  // zlib level 0..9 (clamped)
};

// Encodes a width x height RGB8 row-major image (stride 3 * width) as an 8-bit RGB PNG in memory.
StatusOr<std::vector<uint8_t>> EncodePng(int width, int height, const uint8_t* rgb,
                                         const PngWriteOptions& options = {});

// Encodes as EncodePng and writes the file at `path` (created or truncated).
Status WritePng(const std::string& path, int width, int height, const uint8_t* rgb,
                const PngWriteOptions& options = {});

}  // namespace dsvl2
