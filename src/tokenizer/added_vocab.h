// Added tokens (tokenizer.json "added_tokens" and tokens added later): they are cut out of the
// text before normalization and pre-tokenization, following tokenizers' AddedVocabulary.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace dsvl2 {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // skipped by Decode(skip_special=true)
  bool single_word = false;  // only matches when not glued to a word character on either side
  bool lstrip = false;       // also swallows the whitespace on its left
  bool rstrip = false;       // also swallows the whitespace on its right
  bool normalized = true;    // matched in the normalized text (else in the raw text)
};

class AddedVocabulary {
 public:
  // A piece of the input: either an added token (id >= 0) or text still to be pre-tokenized
  // (id == -1; already normalized).
  struct Segment {
    std::string_view text;
    int32_t id;
  };

  // Adds a token or, if its content is already an added token, replaces it. Call Rebuild()
  // before the next Split().
  void Add(const AddedToken& token);
  // Rebuilds the matchers; normalized tokens are matched in their normalized form.
  void Rebuild(const Normalizer& normalizer);

  std::optional<int32_t> TokenToId(std::string_view content) const;
  const AddedToken* Find(int32_t id) const;
  bool empty() const { return tokens_.empty(); }
  // Highest added id, -1 if none.
  int32_t max_id() const;

  // Splits valid UTF-8 `text`: first on non-normalized tokens in the raw text, then normalizes
  // each remaining piece and splits it on normalized tokens. Normalized text lives in *arena.
  void Split(std::string_view text, const Normalizer& normalizer, std::vector<Segment>* out,
             TextArena* arena) const;

 private:
  // Byte trie for leftmost-longest matching (HF uses Aho-Corasick with MatchKind::LeftmostLongest).
  class Trie {
   public:
    void Clear();
    void Insert(std::string_view key, int32_t value);
    bool empty() const { return nodes_.size() <= 1; }
    // Longest key starting at text[pos]: returns its value and sets *len, or -1.
    int32_t LongestAt(std::string_view text, size_t pos, size_t* len) const;
    // First position >= pos whose byte can start a key (text.size() if none).
    size_t NextCandidate(std::string_view text, size_t pos) const {
      while (pos < text.size() && root_children_[static_cast<uint8_t>(text[pos])] < 0) ++pos;
      return pos;
    }

   private:
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;
      int32_t value = -1;
    };
    int32_t Child(int32_t node, uint8_t b) const;
    std::vector<Node> nodes_{Node{}};
    std::array<int32_t, 256> root_children_ = Filled();
    static std::array<int32_t, 256> Filled() {
      std::array<int32_t, 256> a;
      a.fill(-1);
      return a;
    }
  };

  // HF AddedVocabulary::find_matches: segments of `sentence` with the ids of the matched tokens.
  void FindMatches(std::string_view sentence, const Trie& trie, std::vector<Segment>* out) const;

  std::vector<AddedToken> tokens_;                    // in insertion order
  std::unordered_map<std::string, size_t> by_content_;  // content -> index in tokens_
  std::unordered_map<int32_t, size_t> by_id_;          // id -> index in tokens_
  Trie raw_trie_;         // tokens with normalized == false; values are indices in tokens_
  Trie normalized_trie_;  // tokens with normalized == true
};

}  // namespace dsvl2
