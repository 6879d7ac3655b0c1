// The BPE model of a tokenizer.json: vocabulary, ranked merges, and a per-word result cache.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace dsvl2 {

// Open-addressing hash map from a symbol pair (a, b) to the merge (rank, merged id).
class MergeTable {
 public:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  void Reserve(size_t n);
  // Later insertions of the same pair overwrite earlier ones (HF builds a HashMap the same way).
  void Insert(int32_t a, int32_t b, Merge m);
  const Merge* Find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = Key(a, b);
    for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  static uint64_t Key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static size_t Hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

class BpeModel {
 public:
  // `model` is the "model" object of tokenizer.json (type BPE). `byte_level` says whether the
  // pieces given to Encode are raw bytes whose symbols are the byte-level alphabet (true when
  // the pre-tokenizer ends with ByteLevel) or text whose symbols are its characters.
  static StatusOr<std::unique_ptr<BpeModel>> FromJson(const nlohmann::json& model,
                                                      bool byte_level);

  // Appends the ids of one pre-tokenized piece. Characters missing from the vocabulary become
  // the unk token if the model has one, else they are dropped (as HF does without unk_token).
  // Thread-safe.
  void Encode(std::string_view piece, std::vector<int32_t>* ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // Token string of an id of the model vocabulary; nullptr if the id is not in it.
  const std::string* IdToToken(int32_t id) const;
  // Number of entries in the vocabulary (HF Model::get_vocab_size).
  size_t vocab_count() const { return vocab_.size(); }
  // Highest id in the vocabulary, -1 if empty.
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  BpeModel() = default;
  // Initial symbols of a piece: one per byte (byte-level) or per character.
  void InitialSymbols(std::string_view piece, std::vector<int32_t>* symbols) const;
  void MergeAll(std::vector<int32_t>* symbols) const;

  StringMap vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<uint8_t> id_present_;
  MergeTable merges_;
  bool byte_level_ = false;
  bool ignore_merges_ = false;
  std::optional<int32_t> unk_id_;
  int32_t byte_ids_[256];  // byte-level: id of each byte's symbol, -1 if absent

  // Word cache: piece bytes -> ids. Cleared wholesale when it grows past kCacheCapacity.
  static constexpr size_t kCacheCapacity = 1 << 17;
  static constexpr size_t kMaxCachedPieceBytes = 256;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>
      cache_;
};

}  // namespace dsvl2
