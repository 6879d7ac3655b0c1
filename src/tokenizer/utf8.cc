#include "tokenizer/utf8.h"

namespace dsvl2::utf8 {
namespace {

// Valid range of the second byte for a given lead byte (Unicode Table 3-7); the remaining
// continuation bytes are always 0x80..0xBF.
bool SecondByteOk(uint8_t lead, uint8_t b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;  // no overlongs
    case 0xED: return b >= 0x80 && b <= 0x9F;  // no surrogates
    case 0xF0: return b >= 0x90 && b <= 0xBF;  // no overlongs
    case 0xF4: return b >= 0x80 && b <= 0x8F;  // <= U+10FFFF
    default: return b >= 0x80 && b <= 0xBF;
  }
}

// Expected total length for a lead byte, 0 for bytes that can never start a sequence.
size_t SequenceLength(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Number of bytes starting at s[i] that form a (possibly truncated) valid prefix of a
// sequence: the "maximal subpart" length. Always >= 1 for a non-empty tail.
size_t MaximalSubpart(std::string_view s, size_t i) {
  const uint8_t lead = static_cast<uint8_t>(s[i]);
  const size_t need = SequenceLength(lead);
  if (need <= 1) return 1;
  size_t n = 1;
  while (n < need && i + n < s.size()) {
    const uint8_t b = static_cast<uint8_t>(s[i + n]);
    const bool ok = n == 1 ? SecondByteOk(lead, b) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
    ++n;
  }
  return n;
}

}  // namespace

size_t DecodeOne(std::string_view s, size_t i, char32_t* cp) {
  if (i >= s.size()) return 0;
  const uint8_t lead = static_cast<uint8_t>(s[i]);
  if (lead < 0x80) {
    *cp = lead;
    return 1;
  }
  const size_t need = SequenceLength(lead);
  if (need == 0 || MaximalSubpart(s, i) != need) return 0;
  char32_t c = lead & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
  for (size_t k = 1; k < need; ++k) c = (c << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  *cp = c;
  return need;
}

bool IsValid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Fast path over ASCII.
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    const size_t n = DecodeOne(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ToValidLossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    const size_t n = DecodeOne(s, i, &cp);
    if (n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      Append(kReplacementChar, &out);
      i += MaximalSubpart(s, i);
    }
  }
  return out;
}

void Append(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsPythonSpace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::string_view PythonStrip(std::string_view s) {
  size_t begin = 0;
  while (begin < s.size()) {
    char32_t cp;
    const size_t n = DecodeOne(s, begin, &cp);
    if (n == 0 || !IsPythonSpace(cp)) break;
    begin += n;
  }
  size_t end = s.size();
  while (end > begin) {
    // Step back to the start of the last code point (at most 4 bytes back).
    size_t start = end - 1;
    while (start > begin && end - start < 4 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) {
      --start;
    }
    char32_t cp;
    const size_t n = DecodeOne(s, start, &cp);
    if (n != end - start || !IsPythonSpace(cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

size_t CompletePrefixLength(std::string_view s) {
  // Only the last three bytes can be the start of an unfinished sequence.
  const size_t lo = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t i = s.size(); i-- > lo;) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    const size_t need = SequenceLength(b);
    // An unfinished sequence is a lead byte whose maximal subpart reaches the end of s.
    if (need > 1 && i + need > s.size() && i + MaximalSubpart(s, i) == s.size()) return i;
    break;
  }
  return s.size();
}

}  // namespace dsvl2::utf8
