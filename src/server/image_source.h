// Images of chat requests: `image_url.url` is a data URI (data:image/...;base64,...) or, only when
// the server was started with --allow-local-images DIR, a local path (or file:// URL) that must
// resolve (symlinks included) to a file inside DIR. Remote URLs are refused (no network access).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "io/image.h"

namespace dsvl2::server {

struct ImageLimits {
  int64_t max_pixels = 16 << 20;  // width * height per image
  std::string local_dir;          // "" = local paths refused
};

StatusOr<Image> LoadImageUrl(const std::string& url, const ImageLimits& limits);

}  // namespace dsvl2::server
