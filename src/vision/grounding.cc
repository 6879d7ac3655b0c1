#include "vision/grounding.h"

#include <algorithm>
#include <cstdint>
#include <exception>

#include "base/status.h"

namespace dsvl2 {
namespace {

constexpr std::string_view kRefOpen = "<|ref|>";
constexpr std::string_view kRefClose = "<|/ref|>";
constexpr std::string_view kDetOpen = "<|det|>";
constexpr std::string_view kDetClose = "<|/det|>";

enum class Tag { kRefOpen, kRefClose, kDetOpen, kDetClose };

struct TagHit {
  Tag tag = Tag::kRefOpen;
  size_t pos = 0;  // byte offset of '<'
  size_t len = 0;  // tag length in bytes
  size_t end() const { return pos + len; }
};

const char* TagName(Tag t) {
  switch (t) {
    case Tag::kRefOpen:
      return "<|ref|>";
    case Tag::kRefClose:
      return "<|/ref|>";
    case Tag::kDetOpen:
      return "<|det|>";
    case Tag::kDetClose:
      return "<|/det|>";
  }
  return "?";
}

// Finds the first grounding tag at or after `pos`. Other "<|...|>" tokens are plain text.
bool FindNextTag(std::string_view text, size_t pos, TagHit* hit) {
  while (pos < text.size()) {
    const size_t p = text.find("<|", pos);
    if (p == std::string_view::npos) return false;
    const std::string_view rest = text.substr(p);
    const std::pair<std::string_view, Tag> tags[] = {{kRefOpen, Tag::kRefOpen},
                                                     {kRefClose, Tag::kRefClose},
                                                     {kDetOpen, Tag::kDetOpen},
                                                     {kDetClose, Tag::kDetClose}};
    for (const auto& [s, t] : tags) {
      if (rest.substr(0, s.size()) == s) {
        *hit = TagHit{t, p, s.size()};
        return true;
      }
    }
    pos = p + 2;
  }
  return false;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A short, log-safe rendering of untrusted text: at most 40 bytes, non-printables as \xNN.
std::string Snippet(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out;
  const size_t n = std::min(s.size(), kMax);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += StrFormat("\\x%02X", c);
    }
  }
  if (s.size() > kMax) out += "...";
  return "'" + out + "'";
}

// Cuts s to at most max_bytes without splitting a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

class Parser {
 public:
  Parser(std::string_view text, const GroundingParseOptions& options)
      : text_(text), opt_(options) {}

  GroundingParseResult Run() {
    size_t pos = 0;
    TagHit hit;
    while (FindNextTag(text_, pos, &hit)) {
      switch (hit.tag) {
        case Tag::kRefOpen:
          pos = HandleRef(hit);
          break;
        case Tag::kDetOpen:
          pos = HandleDet(hit);
          break;
        case Tag::kRefClose:
        case Tag::kDetClose:
          Warn(StrFormat("stray %s at byte %zu ignored", TagName(hit.tag), hit.pos));
          pos = hit.end();
          break;
      }
    }
    FinishRef();
    if (suppressed_warnings_ > 0) {
      result_.warnings.push_back(StrFormat("... and %zu more warnings", suppressed_warnings_));
    }
    return std::move(result_);
  }

 private:
  void Warn(std::string message) {
    if (result_.warnings.size() < opt_.max_warnings) {
      result_.warnings.push_back(std::move(message));
    } else {
      ++suppressed_warnings_;
    }
  }

  // Called when the current ref is replaced or the text ends.
  void FinishRef() {
    if (have_ref_ && !ref_has_det_) {
      Warn(StrFormat("<|ref|> %s (byte %zu) has no <|det|>; no box for it", Snippet(label_).c_str(),
                     ref_pos_));
    }
  }

  // Handles <|ref|> at hit; returns the position to resume scanning at.
  size_t HandleRef(const TagHit& hit) {
    FinishRef();
    have_ref_ = false;
    ref_has_det_ = false;
    label_.clear();
    TagHit close;
    const bool found = FindNextTag(text_, hit.end(), &close);
    if (!found || close.tag != Tag::kRefClose) {
      Warn(StrFormat("unterminated <|ref|> at byte %zu%s", hit.pos,
                     found ? StrFormat(" (found %s first)", TagName(close.tag)).c_str() : ""));
      return found ? close.pos : text_.size();
    }
    std::string_view label = text_.substr(hit.end(), close.pos - hit.end());
    if (label.size() > opt_.max_label_bytes) {
      Warn(StrFormat("<|ref|> label at byte %zu is %zu bytes; truncated to %zu", hit.pos,
                     label.size(), opt_.max_label_bytes));
      label = TruncateUtf8(label, opt_.max_label_bytes);
    }
    label_.assign(label);
    have_ref_ = true;
    ref_pos_ = hit.pos;
    ref_index_ = result_.num_refs++;
    return close.end();
  }

  size_t HandleDet(const TagHit& hit) {
    TagHit close;
    const bool found = FindNextTag(text_, hit.end(), &close);
    if (!found || close.tag != Tag::kDetClose) {
      Warn(StrFormat("unterminated <|det|> at byte %zu%s; skipped", hit.pos,
                     found ? StrFormat(" (found %s first)", TagName(close.tag)).c_str() : ""));
      return found ? close.pos : text_.size();
    }
    ++result_.num_dets;
    if (!have_ref_) {
      Warn(StrFormat("<|det|> at byte %zu has no preceding <|ref|>; its boxes get an empty label",
                     hit.pos));
    } else if (ref_has_det_) {
      Warn(StrFormat("<|det|> at byte %zu is the second det after <|ref|> %s; label reused",
                     hit.pos, Snippet(label_).c_str()));
    }
    ParseDetBody(text_.substr(hit.end(), close.pos - hit.end()), hit.end());
    ref_has_det_ = true;
    return close.end();
  }

  // body: text between <|det|> and <|/det|>; offset: its byte offset in the text.
  void ParseDetBody(std::string_view body, size_t offset) {
    const std::string_view trimmed = Trim(body);
    if (trimmed.size() < 2 || trimmed.front() != '[' || trimmed.back() != ']') {
      Warn(StrFormat("<|det|> body at byte %zu is not a list like [[x1, y1, x2, y2]]: %s; skipped",
                     offset, Snippet(body).c_str()));
      return;
    }
    const std::string_view inner = trimmed.substr(1, trimmed.size() - 2);
    const size_t inner_offset = offset + static_cast<size_t>(trimmed.data() - body.data()) + 1;
    if (inner.find('[') == std::string_view::npos) {
      Warn(StrFormat("<|det|> body at byte %zu has no inner [x1, y1, x2, y2] box: %s; skipped",
                     offset, Snippet(body).c_str()));
      return;
    }
    size_t i = 0;
    while (i < inner.size()) {
      const char c = inner[i];
      if (IsSpace(c) || c == ',') {
        ++i;
        continue;
      }
      if (c != '[') {
        size_t next = inner.find('[', i);
        if (next == std::string_view::npos) next = inner.size();
        Warn(StrFormat("unexpected text %s at byte %zu inside <|det|>; ignored",
                       Snippet(inner.substr(i, next - i)).c_str(), inner_offset + i));
        i = next;
        continue;
      }
      const size_t close = inner.find(']', i + 1);
      if (close == std::string_view::npos) {
        Warn(StrFormat("box at byte %zu has no closing ']': %s; skipped", inner_offset + i,
                       Snippet(inner.substr(i)).c_str()));
        return;
      }
      ParseBox(inner.substr(i + 1, close - i - 1), inner_offset + i);
      i = close + 1;
    }
  }

  // Parses "x1, y1, x2, y2" (the text between a box's brackets) at byte offset `offset`.
  void ParseBox(std::string_view s, size_t offset) {
    int v[4];
    int count = 0;
    size_t start = 0;
    while (true) {
      const size_t comma = s.find(',', start);
      const std::string_view field = Trim(s.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (count >= 4) {
        count = 5;  // too many fields
        break;
      }
      std::string why;
      if (!ParseCoord(field, &v[count], &why)) {
        Warn(StrFormat("box %s at byte %zu: %s; skipped", Snippet(s).c_str(), offset, why.c_str()));
        return;
      }
      ++count;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (count != 4) {
      Warn(StrFormat("box %s at byte %zu: expected 4 numbers, got %s; skipped", Snippet(s).c_str(),
                     offset, count > 4 ? "more" : std::to_string(count).c_str()));
      return;
    }
    if (v[2] < v[0] || v[3] < v[1]) {
      Warn(StrFormat("box [%d, %d, %d, %d] at byte %zu has x2 < x1 or y2 < y1; skipped", v[0], v[1],
                     v[2], v[3], offset));
      return;
    }
    if (result_.boxes.size() >= opt_.max_boxes) {
      if (!max_boxes_warned_) {
        Warn(StrFormat("more than %zu boxes; the rest are skipped", opt_.max_boxes));
        max_boxes_warned_ = true;
      }
      return;
    }
    GroundingBox box;
    box.label = have_ref_ ? label_ : std::string();
    box.image_index = opt_.image_index;
    box.ref_index = have_ref_ ? ref_index_ : -1;
    box.raw_x1 = v[0];
    box.raw_y1 = v[1];
    box.raw_x2 = v[2];
    box.raw_y2 = v[3];
    if (opt_.image_width > 0 && opt_.image_height > 0) {
      SetGroundingPixels(opt_.image_width, opt_.image_height, &box);
    }
    result_.boxes.push_back(std::move(box));
  }

  // One coordinate: optional sign, decimal digits, value in [0, 999].
  static bool ParseCoord(std::string_view f, int* out, std::string* why) {
    if (f.empty()) {
      *why = "empty coordinate";
      return false;
    }
    bool negative = false;
    size_t i = 0;
    if (f[0] == '-' || f[0] == '+') {
      negative = f[0] == '-';
      i = 1;
    }
    if (i == f.size()) {
      *why = "coordinate " + Snippet(f) + " is not an integer";
      return false;
    }
    int64_t value = 0;
    for (; i < f.size(); ++i) {
      if (f[i] < '0' || f[i] > '9') {
        *why = "coordinate " + Snippet(f) + " is not an integer";
        return false;
      }
      if (value <= 1000000) value = value * 10 + (f[i] - '0');  // saturates well above 999
    }
    if (negative && value != 0) {
      *why = "coordinate " + Snippet(f) + " is negative (expected 0..999)";
      return false;
    }
    if (value > kGroundingCoordMax) {
      *why = "coordinate " + Snippet(f) + " is out of range 0..999";
      return false;
    }
    *out = static_cast<int>(value);
    return true;
  }

  std::string_view text_;
  const GroundingParseOptions& opt_;
  GroundingParseResult result_;
  size_t suppressed_warnings_ = 0;
  bool max_boxes_warned_ = false;
  // The current ref (label source for following dets).
  bool have_ref_ = false;
  bool ref_has_det_ = false;
  std::string label_;
  size_t ref_pos_ = 0;
  int ref_index_ = -1;
};

}  // namespace

GroundingParseResult ParseGrounding(std::string_view text, const GroundingParseOptions& options) {
  try {
    return Parser(text, options).Run();
  } catch (const std::exception& e) {  // only std::bad_alloc is possible
    GroundingParseResult r;
    r.warnings.push_back(std::string("grounding parse aborted: ") + e.what());
    return r;
  }
}

GroundingParseResult ParseGrounding(std::string_view text, int image_width, int image_height) {
  GroundingParseOptions options;
  options.image_width = image_width;
  options.image_height = image_height;
  return ParseGrounding(text, options);
}

int GroundingCoordToPixel(int v, int extent) {
  v = std::clamp(v, 0, kGroundingCoordMax);
  extent = std::max(extent, 0);
  // Python: int(v / 999 * W). v / 999 is a double, then * W, then truncation toward zero.
  return static_cast<int>(static_cast<double>(v) / 999.0 * static_cast<double>(extent));
}

void SetGroundingPixels(int width, int height, GroundingBox* box) {
  box->x1 = GroundingCoordToPixel(box->raw_x1, width);
  box->y1 = GroundingCoordToPixel(box->raw_y1, height);
  box->x2 = GroundingCoordToPixel(box->raw_x2, width);
  box->y2 = GroundingCoordToPixel(box->raw_y2, height);
}

bool HasGroundingTags(std::string_view text) {
  TagHit hit;
  return FindNextTag(text, 0, &hit);
}

}  // namespace dsvl2
