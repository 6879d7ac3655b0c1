// A Hugging Face tokenizer.json tokenizer (byte-level BPE family), bit-compatible with the
// `tokenizers` library for encode(text, add_special_tokens=False) and decode(ids).
//
// Pipeline (as in tokenizers):
//   1. added tokens are cut out of the raw text (non-normalized ones), the remaining text is
//      normalized and cut on normalized added tokens (AddedVocabulary);
//   2. the pre-tokenizer splits each remaining segment into pieces;
//   3. BPE encodes each piece independently (results are cached per piece).
// Encode never adds BOS/EOS; callers add them explicitly, as DeepSeek-VL2's processor does.
//
// Thread-safety: const methods may be called concurrently. AddSpecialTokens is not; call it
// before sharing the tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/added_vocab.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace dsvl2 {

// Names of the bos/eos/pad tokens; ids are looked up by name, never hard-coded.
struct SpecialTokenNames {
  std::string bos = "<｜begin▁of▁sentence｜>";
  std::string eos = "<｜end▁of▁sentence｜>";
  std::string pad = "<｜▁pad▁｜>";
};

class Tokenizer {
 public:
  // Loads a tokenizer.json file (`source` names it in error messages).
  static StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  static StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json,
                                                       const std::string& source);
  // Loads DIR/tokenizer.json and takes the bos/eos/pad names from DIR/special_tokens_map.json,
  // else DIR/tokenizer_config.json (the precedence transformers uses), else the defaults.
  static StatusOr<std::unique_ptr<Tokenizer>> FromModelDir(const std::string& dir);
  ~Tokenizer();

  // Token ids of `text`, no special tokens added. HF takes a Python str, which is always valid
  // Unicode; here invalid UTF-8 is first repaired by replacing each maximal ill-formed
  // subsequence with U+FFFD (what bytes.decode("utf-8", "replace") would hand to HF).
  std::vector<int32_t> Encode(std::string_view text) const;

  // Text of `ids` as tokenizers' decode(ids, skip_special_tokens): unknown ids are skipped,
  // invalid UTF-8 produced by partial byte tokens becomes U+FFFD.
  std::string Decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // Streaming primitive: appends the raw bytes token `id` contributes to the decoded output
  // (before UTF-8 repair). `first` says whether no token was emitted before (matters only for
  // tokenizers without a decoder, whose tokens are joined with spaces). Returns false and
  // appends nothing for unknown ids and, with skip_special, special tokens.
  bool AppendTokenBytes(int32_t id, bool skip_special, bool first, std::string* out) const;

  std::optional<int32_t> TokenId(std::string_view token) const;
  // The vocabulary string of `id` (byte-level form for BPE tokens), nullopt if unknown.
  std::optional<std::string> TokenString(int32_t id) const;
  bool IsSpecial(int32_t id) const;

  // Adds special tokens as transformers' add_special_tokens does: a token already in the
  // vocabulary keeps its id (and becomes a special added token); a new one gets the next id
  // after the added tokens (at least the model vocabulary size). Returns how many were added.
  int AddSpecialTokens(std::span<const std::string> tokens);

  // One past the highest id (model vocabulary and added tokens).
  int32_t vocab_size() const;

  const SpecialTokenNames& special_token_names() const { return names_; }
  void set_special_token_names(SpecialTokenNames names) { names_ = std::move(names); }
  std::optional<int32_t> bos_id() const { return TokenId(names_.bos); }
  std::optional<int32_t> eos_id() const { return TokenId(names_.eos); }
  std::optional<int32_t> pad_id() const { return TokenId(names_.pad); }

 private:
  Tokenizer() = default;
  Status Load(std::string_view json);
  void RebuildDecodeTable();

  Normalizer normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  bool byte_level_decoder_ = false;  // else no decoder: tokens are joined with ' '
  std::vector<std::string> decoded_;  // id -> bytes the decoder produces for it
  std::vector<uint8_t> known_;        // id -> 1 if the id has a token
  SpecialTokenNames names_;
};

}  // namespace dsvl2
