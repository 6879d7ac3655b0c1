// GPT-2 byte-level alphabet: every byte maps to one printable code point so that BPE vocabularies
// can be stored as text. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
// themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ... (so ' ' -> 'Ġ',
// '\n' -> 'Ċ').
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsvl2::byte_level {

// Code point standing for byte b.
char32_t ByteToChar(uint8_t b);

// Byte a byte-level code point stands for, or nullopt if cp is not in the alphabet.
std::optional<uint8_t> CharToByte(char32_t cp);

// The byte-level text of raw bytes (each byte becomes one code point, UTF-8 encoded).
std::string Encode(std::string_view bytes);

// The HF ByteLevel decoder for one token string: maps each code point back to its byte. If any
// code point is outside the alphabet (e.g. an added token like "<｜end▁of▁sentence｜>"), the
// token's own UTF-8 bytes are used unchanged, as tokenizers' ByteLevel::decode_chain does.
std::string DecodeToken(std::string_view token);

// The GPT-2 pre-tokenization regex that ByteLevel(use_regex=true) applies.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace dsvl2::byte_level
