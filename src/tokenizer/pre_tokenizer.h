// tokenizer.json "pre_tokenizer": cuts normalized text into the pieces ("words") that BPE
// encodes independently. Supported: Split (Regex or String pattern, all five delimiter
// behaviours, invert), Digits, ByteLevel and Sequence of those; null means "one piece".
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "tokenizer/regex.h"

namespace dsvl2 {

// HF SplitDelimiterBehavior. For "the-final--countdown" split on '-':
//   Removed            [the] [final] [countdown]
//   Isolated           [the] [-] [final] [-] [-] [countdown]
//   MergedWithPrevious [the-] [final-] [-] [countdown]
//   MergedWithNext     [the] [-final] [-] [-countdown]
//   Contiguous         [the] [-] [final] [--] [countdown]
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Owns text created during pre-tokenization (prefix spaces); string_views into it stay valid.
using TextArena = std::deque<std::string>;

// A (start, end, is_match) cover of a piece, as HF Pattern::find_matches returns it.
struct MatchSpan {
  size_t start;
  size_t end;
  bool is_match;
};

// Applies a delimiter behaviour to a cover and appends the resulting non-empty pieces of `text`.
void ApplySplitBehavior(std::string_view text, const std::vector<MatchSpan>& cover,
                        SplitBehavior behavior, std::vector<std::string_view>* out);

class PreTokenizer {
 public:
  // `json` is the value of the "pre_tokenizer" key (may be null).
  static StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const nlohmann::json& json);
  ~PreTokenizer();

  // Appends the pieces of `text` (valid UTF-8) to *pieces. A piece points into `text` or into
  // *arena. Empty pieces are never produced.
  void Split(std::string_view text, std::vector<std::string_view>* pieces, TextArena* arena) const;

  // True if the last step is ByteLevel, i.e. the BPE alphabet is the 256 byte-level symbols and
  // pieces are raw bytes still to be mapped. ByteLevel may only appear as the last step.
  bool byte_level() const { return byte_level_; }

 private:
  struct Step;
  PreTokenizer() = default;
  Status AddStep(const nlohmann::json& json);
  void ApplyStep(const Step& step, std::string_view piece, std::vector<std::string_view>* out,
                 TextArena* arena, std::vector<MatchSpan>* cover,
                 std::vector<std::pair<size_t, size_t>>* matches) const;

  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace dsvl2
