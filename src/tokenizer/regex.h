// A PCRE2 regex (UTF + UCP, JIT when available) that behaves like the Oniguruma regexes Hugging
// Face tokenizers compiles from tokenizer.json patterns.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dsvl2 {

class Regex {
 public:
  // Compiles an Oniguruma-syntax pattern (see TranslateOnigPattern).
  static StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the [start, end) byte offsets of successive matches in `subject`, which must be
  // valid UTF-8 (not re-checked). Iteration follows the onig crate's find_iter: after a match
  // the search resumes at its end, and an empty match right where the previous match ended is
  // skipped by advancing one character. Returns false if the engine hit a resource limit; the
  // matches found until then are kept. Thread-safe.
  bool FindAll(std::string_view subject, std::vector<std::pair<size_t, size_t>>* matches) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

// Rewrites an Oniguruma pattern into PCRE2 syntax with the same meaning where the two differ:
//  - \s / \S: Oniguruma's Unicode \s is exactly the White_Space property; PCRE2's UCP \s also
//    matches U+180E, so \s is spelled out as an explicit class (inside a class too; a \S inside
//    a class is left to PCRE2).
//  - \h / \H: hexadecimal digit in Oniguruma, horizontal space in PCRE2.
// Anchors need no rewriting: the pattern is compiled with PCRE2_MULTILINE and LF newlines,
// because Oniguruma's default (Ruby) syntax makes ^ and $ line anchors.
std::string TranslateOnigPattern(std::string_view pattern);

}  // namespace dsvl2
