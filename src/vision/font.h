// A small embedded bitmap font for drawing labels (grounding boxes). Printable ASCII only;
// every other code point is drawn as a hollow box. The glyphs are original 5x9 pixel art
// (7 rows above the baseline, 2 descender rows), defined in font.cc and validated at compile time.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace dsvl2 {

inline constexpr int kFontGlyphWidth = 5;   // pixels of ink per glyph, unscaled
inline constexpr int kFontGlyphHeight = 9;  // rows per glyph, unscaled (rows 7-8: descenders)
inline constexpr int kFontAdvance = 6;      // horizontal advance per glyph, unscaled
inline constexpr int kFontLineHeight = 10;  // vertical advance per line, unscaled

// One glyph: kFontGlyphHeight rows, bit (kFontGlyphWidth-1-x) of rows[y] set = pixel (x, y) on.
struct FontGlyph {
  uint8_t rows[kFontGlyphHeight];
  bool On(int x, int y) const {
    if (x < 0 || x >= kFontGlyphWidth || y < 0 || y >= kFontGlyphHeight) return false;
    return (rows[y] >> (kFontGlyphWidth - 1 - x)) & 1u;
  }
};

// True for the code points the font has a real glyph for (0x20..0x7E).
bool FontHasGlyph(uint32_t codepoint);
// The glyph for a code point; the "missing" box glyph when FontHasGlyph is false.
const FontGlyph& GetFontGlyph(uint32_t codepoint);
// The hollow box used for code points without a glyph.
const FontGlyph& MissingGlyph();

// Decodes UTF-8 into code points. Each invalid byte (bad lead, truncated or overlong sequence,
// surrogate, > U+10FFFF) becomes U+FFFD; never fails. Stops after max_codepoints code points.
std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text, size_t max_codepoints = SIZE_MAX);

}  // namespace dsvl2
