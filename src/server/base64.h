// Strict base64 (RFC 4648, standard alphabet, '=' padding optional at the very end; ASCII
// whitespace is skipped). Anything else is an error naming the offending byte offset.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dsvl2::server {

StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view in);

}  // namespace dsvl2::server
