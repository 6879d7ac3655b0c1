// Grounding output parser (spec §7.3). The model writes referring expressions and boxes as
//   <|ref|>The giraffe<|/ref|><|det|>[[580, 270, 999, 900], [1, 2, 3, 4]]<|/det|>
// possibly several ref/det pairs interleaved with text (grounded conversation). Coordinates are
// integers 0..999 relative to the ORIGINAL image; pixel = int(v / 999 * W) for x, int(v / 999 * H)
// for y, exactly as the official demo (parse_ref_bbox) computes them.
//
// The parser only reads the text; the text itself is returned to users unchanged by the caller.
//
// Pairing rules (documented deviation from the official demo, which draws nothing at all when the
// numbers of refs and dets differ): every well-formed box is kept and labelled with the text of
// the nearest preceding <|ref|>...<|/ref|>; a det with no ref before it gets an empty label. The
// following produce a warning but never an error or exception:
//   - a det with no preceding ref (boxes kept, empty label);
//   - a second det after the same ref (boxes kept, same label);
//   - a ref followed by no det (nothing produced for it);
//   - unterminated or stray tags (skipped; scanning resumes at the next tag);
//   - a det body that is not a bracketed list of boxes (whole det skipped);
//   - a box that is not exactly 4 integers, or out of 0..999, or x2 < x1, or y2 < y1 (box skipped);
//   - more than max_boxes boxes (the rest skipped).
// Zero-area boxes (x1 == x2 or y1 == y2) are valid. Non-integer numbers ("580.5") are rejected.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dsvl2 {

inline constexpr int kGroundingCoordMax = 999;  // coordinates are integers in [0, 999]

struct GroundingBox {
  std::string label;    // text between <|ref|> and <|/ref|>, verbatim; "" for a det without ref
  int image_index = 0;  // which request image the box refers to (ParseOptions::image_index)
  int ref_index = -1;   // 0-based index of the ref the label came from; -1 for none
  // Raw model coordinates, 0..999.
  int raw_x1 = 0, raw_y1 = 0, raw_x2 = 0, raw_y2 = 0;
  // Pixels of the original image: int(raw / 999 * W|H). Integral values; 0 when no size given.
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

struct GroundingParseOptions {
  int image_width = 0;  // original image size; <= 0 leaves the pixel fields at 0
  int image_height = 0;
  int image_index = 0;       // copied into every box (the official demo uses the last image)
  size_t max_boxes = 4096;   // boxes beyond this are skipped with one warning
  size_t max_warnings = 64;  // further warnings are counted in one final line
  size_t max_label_bytes =
      4096;  // longer labels are truncated (at a UTF-8 boundary) with a warning
};

struct GroundingParseResult {
  std::vector<GroundingBox> boxes;
  std::vector<std::string> warnings;  // human-readable, with byte offsets into the text
  int num_refs = 0;                   // well-formed <|ref|>...<|/ref|> spans seen
  int num_dets = 0;                   // well-formed <|det|>...<|/det|> spans seen
};

// Parses every ref/det pair in `text`. Never throws; malformed parts become warnings.
GroundingParseResult ParseGrounding(std::string_view text, const GroundingParseOptions& options);
// Convenience: pixel fields computed for a width x height image, image_index 0.
GroundingParseResult ParseGrounding(std::string_view text, int image_width, int image_height);

// int(v / 999 * extent) as the official code computes it in double precision. v is clamped to
// [0, 999] and extent to >= 0 first, so the result is always in [0, extent].
int GroundingCoordToPixel(int v, int extent);
// Fills box->x1..y2 from the raw coordinates for a width x height image.
void SetGroundingPixels(int width, int height, GroundingBox* box);

// True if `text` contains any grounding tag (<|ref|>, <|det|>, or their closing forms).
bool HasGroundingTags(std::string_view text);

}  // namespace dsvl2
