#include "tools/assets.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace dsvl2::tools {

std::string AssetsDir() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("DSVL2_ASSETS")) candidates.emplace_back(env);
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    fs::path dir = fs::path(exe).parent_path();
    candidates.push_back(dir / "assets");
    candidates.push_back(dir / "../share/dsvl2/assets");
  }
  candidates.emplace_back(DSVL2_SOURCE_ASSETS);
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::exists(c / "demo-model" / "config.json", ec)) return c.string();
  }
  return "";
}

}  // namespace dsvl2::tools
