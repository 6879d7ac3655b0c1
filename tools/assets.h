// Locating the bundled demo assets (assets/ in the source tree, or next to the installed binary).
#pragma once

#include <string>

namespace dsvl2::tools {

// Directory holding demo-model/ and demo-image.png, or "" if not found.
std::string AssetsDir();

}  // namespace dsvl2::tools
