#include "server/image_source.h"

#include <filesystem>
#include <vector>

#include "server/base64.h"

namespace dsvl2::server {
namespace {

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

StatusOr<Image> DecodeBytes(const std::vector<uint8_t>& bytes, const ImageLimits& limits) {
  if (DetectImageFormat(bytes.data(), bytes.size()) == ImageFormat::kUnknown)
    return Status::Error("unsupported image format (expected PNG, JPEG, WebP, BMP or GIF)");
  DecodeOptions opt;
  opt.max_pixels = limits.max_pixels;
  return DecodeImage(bytes.data(), bytes.size(), opt);
}

StatusOr<Image> FromDataUri(const std::string& url, const ImageLimits& limits) {
  const size_t comma = url.find(',');
  if (comma == std::string::npos) return Status::Error("malformed data URI: no ',' before the data");
  const std::string meta = url.substr(5, comma - 5);  // after "data:"
  if (!StartsWith(meta, "image/")) return Status::Error("data URI must have an image/* media type");
  if (meta.size() < 7 || meta.compare(meta.size() - 7, 7, ";base64") != 0)
    return Status::Error("data URI must be base64-encoded (data:image/...;base64,...)");
  auto bytes = Base64Decode(std::string_view(url).substr(comma + 1));
  if (!bytes.ok()) return bytes.status();
  return DecodeBytes(*bytes, limits);
}

StatusOr<Image> FromLocalPath(std::string path, const ImageLimits& limits) {
  namespace fs = std::filesystem;
  if (limits.local_dir.empty())
    return Status::Error("local image paths are disabled (start the server with --allow-local-images DIR); "
                         "send a data: URI instead");
  if (StartsWith(path, "file://")) path = path.substr(7);
  std::error_code ec;
  const fs::path root = fs::canonical(limits.local_dir, ec);
  if (ec) return Status::Error("the --allow-local-images directory is not accessible");
  fs::path p(path);
  if (p.is_relative()) p = root / p;
  const fs::path real = fs::canonical(p, ec);  // resolves "..", symlinks
  if (ec) return Status::Error("local image not found: " + path);
  auto [root_end, real_it] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
  if (root_end != root.end() || real == root)
    return Status::Error("local image path is outside the allowed directory: " + path);
  if (!fs::is_regular_file(real, ec)) return Status::Error("local image is not a regular file: " + path);
  DecodeOptions opt;
  opt.max_pixels = limits.max_pixels;
  return LoadImageFile(real.string(), opt);
}

}  // namespace

StatusOr<Image> LoadImageUrl(const std::string& url, const ImageLimits& limits) {
  if (StartsWith(url, "data:")) return FromDataUri(url, limits);
  if (StartsWith(url, "http://") || StartsWith(url, "https://"))
    return Status::Error("remote image URLs are not supported; send the image as a data: URI");
  if (url.empty()) return Status::Error("empty image URL");
  return FromLocalPath(url, limits);
}

}  // namespace dsvl2::server
