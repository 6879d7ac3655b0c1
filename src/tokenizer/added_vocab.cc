#include "tokenizer/added_vocab.h"

#include <algorithm>

#include <utf8proc.h>

#include "tokenizer/utf8.h"

namespace dsvl2 {
namespace {

// Rust regex \w (Unicode): letters, marks, decimal digits, connector punctuation, letter
// numbers and the joiners ZWNJ/ZWJ.
bool IsWordChar(char32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '_';
  if (cp == 0x200C || cp == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

// Rust regex \s: the Unicode White_Space property.
bool IsWhiteSpace(char32_t cp) {
  return utf8::IsPythonSpace(cp) && !(cp >= 0x1C && cp <= 0x1F);
}

// Last code point of s (valid UTF-8, non-empty) and its byte length.
char32_t LastChar(std::string_view s, size_t* len) {
  size_t start = s.size() - 1;
  while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
  char32_t cp = 0;
  utf8::DecodeOne(s, start, &cp);
  *len = s.size() - start;
  return cp;
}

}  // namespace

void AddedVocabulary::Trie::Clear() {
  nodes_.assign(1, Node{});
  root_children_.fill(-1);
}

int32_t AddedVocabulary::Trie::Child(int32_t node, uint8_t b) const {
  if (node == 0) return root_children_[b];
  for (const auto& [byte, child] : nodes_[node].children) {
    if (byte == b) return child;
  }
  return -1;
}

void AddedVocabulary::Trie::Insert(std::string_view key, int32_t value) {
  if (key.empty()) return;  // HF never matches empty tokens
  int32_t node = 0;
  for (char c : key) {
    const uint8_t b = static_cast<uint8_t>(c);
    int32_t child = Child(node, b);
    if (child < 0) {
      child = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(Node{});
      if (node == 0) root_children_[b] = child;
      else nodes_[node].children.emplace_back(b, child);
    }
    node = child;
  }
  nodes_[node].value = value;
}

int32_t AddedVocabulary::Trie::LongestAt(std::string_view text, size_t pos, size_t* len) const {
  int32_t found = -1;
  int32_t node = 0;
  for (size_t j = pos; j < text.size(); ++j) {
    node = Child(node, static_cast<uint8_t>(text[j]));
    if (node < 0) break;
    if (nodes_[node].value >= 0) {
      found = nodes_[node].value;
      *len = j + 1 - pos;
    }
  }
  return found;
}

void AddedVocabulary::Add(const AddedToken& token) {
  const auto it = by_content_.find(token.content);
  if (it != by_content_.end()) {
    by_id_.erase(tokens_[it->second].id);
    tokens_[it->second] = token;
    by_id_[token.id] = it->second;
    return;
  }
  by_content_[token.content] = tokens_.size();
  by_id_[token.id] = tokens_.size();
  tokens_.push_back(token);
}

void AddedVocabulary::Rebuild(const Normalizer& normalizer) {
  raw_trie_.Clear();
  normalized_trie_.Clear();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.normalized) {
      const std::string key = normalizer.is_identity() ? t.content : normalizer.Apply(t.content);
      normalized_trie_.Insert(key, static_cast<int32_t>(i));
    } else {
      raw_trie_.Insert(t.content, static_cast<int32_t>(i));
    }
  }
}

std::optional<int32_t> AddedVocabulary::TokenToId(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const AddedToken* AddedVocabulary::Find(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

int32_t AddedVocabulary::max_id() const {
  int32_t m = -1;
  for (const auto& t : tokens_) m = std::max(m, t.id);
  return m;
}

void AddedVocabulary::FindMatches(std::string_view s, const Trie& trie,
                                  std::vector<Segment>* out) const {
  if (trie.empty()) {
    out->push_back({s, -1});
    return;
  }
  size_t start_offset = 0;  // end of the last emitted segment
  size_t pos = 0;           // where the matcher resumes (end of the last raw match)
  while ((pos = trie.NextCandidate(s, pos)) < s.size()) {
    size_t len = 0;
    const int32_t index = trie.LongestAt(s, pos, &len);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& t = tokens_[index];
    size_t start = pos, stop = pos + len;
    pos = stop;
    if (t.single_word) {
      size_t n = 0;
      const bool word_before = start > 0 && IsWordChar(LastChar(s.substr(0, start), &n));
      char32_t next = 0;
      const bool word_after =
          stop < s.size() && utf8::DecodeOne(s, stop, &next) > 0 && IsWordChar(next);
      if (word_before || word_after) continue;  // not a single word: leave it as text
    }
    if (t.lstrip) {
      size_t new_start = start;
      while (new_start > 0) {
        size_t n = 0;
        if (!IsWhiteSpace(LastChar(s.substr(0, new_start), &n))) break;
        new_start -= n;
      }
      // Whitespace already swallowed by the previous token's rstrip stays with it.
      start = std::max(new_start, start_offset);
    }
    if (t.rstrip) {
      char32_t cp = 0;
      for (size_t n; stop < s.size() && (n = utf8::DecodeOne(s, stop, &cp)) > 0 && IsWhiteSpace(cp);) {
        stop += n;
      }
    }
    // A token found inside whitespace the previous token's rstrip swallowed: HF would emit
    // overlapping segments; keep the segments disjoint instead.
    if (stop <= start_offset) continue;
    start = std::max(start, start_offset);
    if (start_offset < start) out->push_back({s.substr(start_offset, start - start_offset), -1});
    out->push_back({s.substr(start, stop - start), t.id});
    start_offset = stop;
  }
  if (start_offset < s.size() || s.empty()) {
    out->push_back({s.substr(start_offset), -1});
  }
}

void AddedVocabulary::Split(std::string_view text, const Normalizer& normalizer,
                            std::vector<Segment>* out, TextArena* arena) const {
  std::vector<Segment> raw;
  FindMatches(text, raw_trie_, &raw);
  for (const Segment& seg : raw) {
    if (seg.id >= 0) {
      out->push_back(seg);
      continue;
    }
    std::string_view piece = seg.text;
    if (!normalizer.is_identity() && !piece.empty()) {
      arena->push_back(normalizer.Apply(piece));
      piece = arena->back();
    }
    FindMatches(piece, normalized_trie_, out);
  }
}

}  // namespace dsvl2
