#include "server/static_assets.h"

namespace dsvl2::server {

const StaticAsset* FindStaticAsset(std::string_view name) {
  for (size_t i = 0; i < kNumStaticAssets; ++i)
    if (name == kStaticAssets[i].name) return &kStaticAssets[i];
  return nullptr;
}

const char* ContentTypeFor(std::string_view name) {
  struct Ext { const char* ext; const char* type; };
  static const Ext kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
      {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
      {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".gif", "image/gif"}, {".webp", "image/webp"},
      {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
  };
  for (const Ext& e : kTypes) {
    const std::string_view ext(e.ext);
    if (name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext) return e.type;
  }
  return "application/octet-stream";
}

}  // namespace dsvl2::server
