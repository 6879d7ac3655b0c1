// UTF-8 helpers used by the tokenizer and the chat template: strict validation, lossy repair
// (the "maximal subpart" policy shared by Python's errors="replace" and Rust's
// String::from_utf8_lossy), Python's str.strip(), and the length of a buffer's complete prefix
// for streaming decoders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsvl2::utf8 {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0 if the bytes at s[i]
// are not a complete, well-formed sequence (overlongs, surrogates and > U+10FFFF are rejected).
// On success *cp receives the code point.
size_t DecodeOne(std::string_view s, size_t i, char32_t* cp);

// True if the whole string is well-formed UTF-8.
bool IsValid(std::string_view s);

// Replaces every ill-formed subsequence by U+FFFD, one per maximal subpart (Unicode §3.9,
// "U+FFFD substitution of maximal subparts"); well-formed input is returned unchanged.
std::string ToValidLossy(std::string_view s);

// Appends the UTF-8 encoding of cp (cp must be a Unicode scalar value).
void Append(char32_t cp, std::string* out);

// Python's str.isspace() for one code point: Unicode White_Space plus U+001C..U+001F (which
// Python counts as whitespace through their bidirectional class). U+180E and U+200B are not
// whitespace.
bool IsPythonSpace(char32_t cp);

// Python's str.strip() with no argument, on valid UTF-8 (invalid bytes are never stripped).
std::string_view PythonStrip(std::string_view s);

// Length of the longest prefix of s that does not end inside an incomplete-but-still-possibly
// valid UTF-8 sequence. Bytes after that prefix (at most 3) may become valid when more bytes
// arrive; everything before it can be emitted now (after lossy repair).
size_t CompletePrefixLength(std::string_view s);

}  // namespace dsvl2::utf8
