#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace dsvl2::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> byte_to_char{};
  std::array<int16_t, 512> char_to_byte{};  // alphabet code points are all < U+0144

  Tables() {
    char_to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      byte_to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      char_to_byte[byte_to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

char32_t ByteToChar(uint8_t b) { return GetTables().byte_to_char[b]; }

std::optional<uint8_t> CharToByte(char32_t cp) {
  if (cp >= 512) return std::nullopt;
  const int16_t b = GetTables().char_to_byte[cp];
  if (b < 0) return std::nullopt;
  return static_cast<uint8_t>(b);
}

std::string Encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::Append(ByteToChar(static_cast<uint8_t>(c)), &out);
  return out;
}

std::string DecodeToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  size_t i = 0;
  while (i < token.size()) {
    char32_t cp;
    const size_t n = utf8::DecodeOne(token, i, &cp);
    std::optional<uint8_t> b = n > 0 ? CharToByte(cp) : std::nullopt;
    if (!b) return std::string(token);
    out.push_back(static_cast<char>(*b));
    i += n;
  }
  return out;
}

}  // namespace dsvl2::byte_level
