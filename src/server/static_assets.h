// The web page's files (src/server/web/*), embedded into the binary at build time
// (embed_assets.cmake generates the table), served at "/" (index.html) and "/<name>".
#pragma once

#include <cstddef>
#include <string_view>

namespace dsvl2::server {

struct StaticAsset {
  const char* name;  // file name, e.g. "app.js"
  const unsigned char* data;
  size_t size;
};

// Generated: every file of src/server/web, sorted by name.
extern const StaticAsset kStaticAssets[];
extern const size_t kNumStaticAssets;

const StaticAsset* FindStaticAsset(std::string_view name);
// By extension: text/html, text/javascript, text/css, image/png, ...; application/octet-stream.
const char* ContentTypeFor(std::string_view name);

}  // namespace dsvl2::server
