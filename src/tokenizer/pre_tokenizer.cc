#include "tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace dsvl2 {

struct PreTokenizer::Step {
  enum class Kind { kSplitRegex, kSplitString, kDigits, kByteLevel };
  Kind kind = Kind::kSplitRegex;
  std::unique_ptr<Regex> regex;  // kSplitRegex; also ByteLevel with use_regex
  std::string literal;           // kSplitString
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;
  bool individual_digits = false;
  bool add_prefix_space = false;
};

namespace {

// Rust char::is_numeric: general categories Nd, Nl, No.
bool IsNumeric(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
         cat == UTF8PROC_CATEGORY_NO;
}

StatusOr<SplitBehavior> ParseBehavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  return Status::Error("unknown Split behavior \"" + s + "\"");
}

bool GetBool(const nlohmann::json& obj, const char* key, bool def) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : def;
}

// Turns a list of match ranges into a cover of [0, len) as HF Pattern::find_matches does.
void MatchesToCover(const std::vector<std::pair<size_t, size_t>>& matches, size_t len,
                    bool invert, std::vector<MatchSpan>* cover) {
  cover->clear();
  size_t prev = 0;
  for (const auto& [start, end] : matches) {
    if (start != prev) cover->push_back({prev, start, invert});
    cover->push_back({start, end, !invert});
    prev = end;
  }
  if (prev != len) cover->push_back({prev, len, invert});
}

}  // namespace

void ApplySplitBehavior(std::string_view text, const std::vector<MatchSpan>& cover,
                        SplitBehavior behavior, std::vector<std::string_view>* out) {
  auto emit = [&](size_t start, size_t end) {
    if (end > start) out->push_back(text.substr(start, end - start));
  };
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& m : cover) emit(m.start, m.end);
      return;
    case SplitBehavior::kRemoved:
      for (const auto& m : cover) {
        if (!m.is_match) emit(m.start, m.end);
      }
      return;
    case SplitBehavior::kMergedWithPrevious:
    case SplitBehavior::kContiguous: {
      // Fold left: a match following a non-match (MergedWithPrevious), or any span of the same
      // kind as the previous one (Contiguous), extends the previous span.
      std::vector<std::pair<size_t, size_t>> spans;
      bool prev_match = false;
      for (const auto& m : cover) {
        const bool merge = behavior == SplitBehavior::kContiguous ? m.is_match == prev_match
                                                                  : m.is_match && !prev_match;
        if (merge && !spans.empty()) spans.back().second = m.end;
        else spans.emplace_back(m.start, m.end);
        prev_match = m.is_match;
      }
      for (const auto& [s, e] : spans) emit(s, e);
      return;
    }
    case SplitBehavior::kMergedWithNext: {
      // Fold right: a match preceding a non-match extends the following span leftwards.
      std::vector<std::pair<size_t, size_t>> spans;  // built back to front
      bool next_match = false;
      for (auto it = cover.rbegin(); it != cover.rend(); ++it) {
        if (it->is_match && !next_match && !spans.empty()) spans.back().first = it->start;
        else spans.emplace_back(it->start, it->end);
        next_match = it->is_match;
      }
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) emit(it->first, it->second);
      return;
    }
  }
}

PreTokenizer::~PreTokenizer() = default;

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const nlohmann::json& json) {
  std::unique_ptr<PreTokenizer> pt(new PreTokenizer());
  if (!json.is_null()) RETURN_IF_ERROR(pt->AddStep(json));
  return pt;
}

Status PreTokenizer::AddStep(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("type") || !json["type"].is_string()) {
    return Status::Error("pre_tokenizer: expected an object with a string \"type\"");
  }
  if (byte_level_) {
    return Status::Error("pre_tokenizer: ByteLevel must be the last step of the Sequence");
  }
  const std::string type = json["type"].get<std::string>();
  if (type == "Sequence") {
    const auto it = json.find("pretokenizers");
    if (it == json.end() || !it->is_array()) {
      return Status::Error("pre_tokenizer Sequence: missing \"pretokenizers\" array");
    }
    for (const auto& child : *it) RETURN_IF_ERROR(AddStep(child));
    return Status::Ok();
  }
  Step step;
  if (type == "Split") {
    const auto pat = json.find("pattern");
    if (pat == json.end() || !pat->is_object()) {
      return Status::Error("pre_tokenizer Split: missing \"pattern\" object");
    }
    if (pat->contains("Regex") && (*pat)["Regex"].is_string()) {
      step.kind = Step::Kind::kSplitRegex;
      ASSIGN_OR_RETURN(step.regex, Regex::Compile((*pat)["Regex"].get<std::string>()));
    } else if (pat->contains("String") && (*pat)["String"].is_string()) {
      step.kind = Step::Kind::kSplitString;
      step.literal = (*pat)["String"].get<std::string>();
      if (step.literal.empty()) return Status::Error("pre_tokenizer Split: empty String pattern");
    } else {
      return Status::Error("pre_tokenizer Split: pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    const auto beh = json.find("behavior");
    if (beh == json.end() || !beh->is_string()) {
      return Status::Error("pre_tokenizer Split: missing \"behavior\"");
    }
    ASSIGN_OR_RETURN(step.behavior, ParseBehavior(beh->get<std::string>()));
    step.invert = GetBool(json, "invert", false);
  } else if (type == "Digits") {
    step.kind = Step::Kind::kDigits;
    step.individual_digits = GetBool(json, "individual_digits", false);
  } else if (type == "ByteLevel") {
    step.kind = Step::Kind::kByteLevel;
    step.add_prefix_space = GetBool(json, "add_prefix_space", true);
    if (GetBool(json, "use_regex", true)) {
      ASSIGN_OR_RETURN(step.regex, Regex::Compile(byte_level::kGpt2Pattern));
    }
    byte_level_ = true;
  } else {
    return Status::Error("unsupported pre_tokenizer type \"" + type + "\"");
  }
  steps_.push_back(std::move(step));
  return Status::Ok();
}

void PreTokenizer::ApplyStep(const Step& step, std::string_view piece,
                             std::vector<std::string_view>* out, TextArena* arena,
                             std::vector<MatchSpan>* cover,
                             std::vector<std::pair<size_t, size_t>>* matches) const {
  matches->clear();
  switch (step.kind) {
    case Step::Kind::kSplitRegex:
      // On an engine failure (resource limit) the unmatched rest stays one piece.
      step.regex->FindAll(piece, matches);
      MatchesToCover(*matches, piece.size(), step.invert, cover);
      ApplySplitBehavior(piece, *cover, step.behavior, out);
      return;
    case Step::Kind::kSplitString:
      for (size_t pos = piece.find(step.literal); pos != std::string_view::npos;
           pos = piece.find(step.literal, pos + step.literal.size())) {
        matches->emplace_back(pos, pos + step.literal.size());
      }
      MatchesToCover(*matches, piece.size(), step.invert, cover);
      ApplySplitBehavior(piece, *cover, step.behavior, out);
      return;
    case Step::Kind::kDigits: {
      // Every numeric character is its own match (HF splits with the char predicate).
      for (size_t i = 0; i < piece.size();) {
        char32_t cp = 0;
        const size_t n = utf8::DecodeOne(piece, i, &cp);
        const size_t step_len = n == 0 ? 1 : n;
        if (n > 0 && IsNumeric(cp)) matches->emplace_back(i, i + step_len);
        i += step_len;
      }
      if (matches->empty()) {
        out->push_back(piece);
        return;
      }
      MatchesToCover(*matches, piece.size(), false, cover);
      ApplySplitBehavior(piece, *cover,
                         step.individual_digits ? SplitBehavior::kIsolated
                                                : SplitBehavior::kContiguous,
                         out);
      return;
    }
    case Step::Kind::kByteLevel: {
      // HF prepends the space to every piece that reaches this step, not just the first.
      if (step.add_prefix_space && piece.front() != ' ') {
        std::string& spaced = arena->emplace_back();
        spaced.reserve(piece.size() + 1);
        spaced.push_back(' ');
        spaced.append(piece);
        piece = spaced;
      }
      if (!step.regex) {
        out->push_back(piece);
        return;
      }
      step.regex->FindAll(piece, matches);
      MatchesToCover(*matches, piece.size(), false, cover);
      ApplySplitBehavior(piece, *cover, SplitBehavior::kIsolated, out);
      return;
    }
  }
}

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>* pieces,
                         TextArena* arena) const {
  if (text.empty()) return;
  if (steps_.empty()) {
    pieces->push_back(text);
    return;
  }
  std::vector<std::string_view> cur{text}, next;
  std::vector<MatchSpan> cover;
  std::vector<std::pair<size_t, size_t>> matches;
  for (size_t s = 0; s < steps_.size(); ++s) {
    std::vector<std::string_view>* dst = s + 1 == steps_.size() ? pieces : &next;
    if (dst == &next) next.clear();
    for (std::string_view piece : cur) ApplyStep(steps_[s], piece, dst, arena, &cover, &matches);
    if (dst == &next) cur.swap(next);
  }
}

}  // namespace dsvl2
