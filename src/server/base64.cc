#include "server/base64.h"

namespace dsvl2::server {
namespace {
int Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
}  // namespace

StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view in) {
  std::vector<uint8_t> out;
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0, chars = 0, pad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (IsSpace(c)) continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = Value(c);
    if (v < 0 || pad > 0)
      return Status::Error(StrFormat("invalid base64: unexpected character at offset %zu", i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++chars;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (chars % 4 == 1) return Status::Error("invalid base64: truncated (length is not a multiple of 4)");
  if (pad > 2 || (pad > 0 && (chars + pad) % 4 != 0)) return Status::Error("invalid base64: bad padding");
  if (chars == 0) return Status::Error("invalid base64: no data");
  return out;
}

}  // namespace dsvl2::server
