#include "tokenizer/bpe.h"

#include <algorithm>
#include <queue>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace dsvl2 {
namespace {

// Ids above this are rejected at load (a corrupt file must not make us allocate gigabytes).
constexpr int64_t kMaxTokenId = 1 << 24;

bool IsNullOrFalse(const nlohmann::json& obj, const char* key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() || (it->is_boolean() && !it->get<bool>());
}

}  // namespace

void MergeTable::Reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
}

void MergeTable::Insert(int32_t a, int32_t b, Merge m) {
  if (slots_.empty() || (size_ + 1) * 2 > slots_.size()) {
    std::vector<Slot> old = std::move(slots_);
    Reserve(std::max<size_t>(16, (size_ + 1) * 2));
    for (const Slot& s : old) {
      if (s.key != kEmpty) Insert(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key), s.merge);
    }
  }
  const uint64_t key = Key(a, b);
  for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.key == key) {
      s.merge = m;
      return;
    }
    if (s.key == kEmpty) {
      s.key = key;
      s.merge = m;
      ++size_;
      return;
    }
  }
}

StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const nlohmann::json& model,
                                                       bool byte_level) {
  if (!model.is_object()) return Status::Error("\"model\" must be an object");
  const auto type = model.find("type");
  if (type != model.end() && !(type->is_string() && type->get<std::string>() == "BPE")) {
    return Status::Error("unsupported model type " + type->dump() + " (only BPE is supported)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"}) {
    if (!IsNullOrFalse(model, key) && !(model[key].is_string() && model[key].get<std::string>().empty())) {
      return Status::Error(std::string("unsupported BPE option \"") + key + "\"");
    }
  }
  if (const auto d = model.find("dropout");
      d != model.end() && !d->is_null() && !(d->is_number() && d->get<double>() == 0.0)) {
    return Status::Error("unsupported BPE option \"dropout\" (encoding must be deterministic)");
  }

  std::unique_ptr<BpeModel> bpe(new BpeModel());
  bpe->byte_level_ = byte_level;
  bpe->ignore_merges_ = !IsNullOrFalse(model, "ignore_merges");

  const auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object()) {
    return Status::Error("BPE model: missing \"vocab\" object");
  }
  bpe->vocab_.reserve(vocab->size());
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxTokenId) {
      return Status::Error("BPE vocab: token \"" + token + "\" has an invalid id " + id.dump());
    }
    bpe->vocab_[token] = static_cast<int32_t>(id.get<int64_t>());
    max_id = std::max(max_id, id.get<int64_t>());
  }
  bpe->id_to_token_.resize(static_cast<size_t>(max_id + 1));
  bpe->id_present_.assign(static_cast<size_t>(max_id + 1), 0);
  for (const auto& [token, id] : bpe->vocab_) {
    bpe->id_to_token_[id] = token;
    bpe->id_present_[id] = 1;
  }

  for (int b = 0; b < 256; ++b) {
    const auto id = bpe->TokenToId(byte_level::Encode(std::string(1, static_cast<char>(b))));
    bpe->byte_ids_[b] = byte_level && id ? *id : -1;
  }

  if (const auto unk = model.find("unk_token"); unk != model.end() && unk->is_string()) {
    bpe->unk_id_ = bpe->TokenToId(unk->get<std::string>());
    if (!bpe->unk_id_) {
      return Status::Error("BPE unk_token \"" + unk->get<std::string>() + "\" is not in the vocab");
    }
    if (!IsNullOrFalse(model, "fuse_unk")) return Status::Error("unsupported BPE option \"fuse_unk\"");
  }

  const auto merges = model.find("merges");
  if (merges != model.end() && !merges->is_null()) {
    if (!merges->is_array()) return Status::Error("BPE model: \"merges\" must be an array");
    bpe->merges_.Reserve(merges->size());
    int32_t rank = 0;
    for (const auto& m : *merges) {
      // Two serialisations exist: "a b" (split on the single space) and ["a", "b"].
      std::string a, b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          return Status::Error(StrFormat("BPE merge %d \"%s\" is not of the form \"a b\"", rank, s.c_str()));
        }
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        return Status::Error(StrFormat("BPE merge %d is neither \"a b\" nor [a, b]", rank));
      }
      const auto ia = bpe->TokenToId(a), ib = bpe->TokenToId(b), inew = bpe->TokenToId(a + b);
      if (!ia || !ib || !inew) {
        return Status::Error(StrFormat("BPE merge %d (\"%s\", \"%s\") uses a token missing from the vocab",
                                       rank, a.c_str(), b.c_str()));
      }
      bpe->merges_.Insert(*ia, *ib, {rank, *inew});
      ++rank;
    }
  }
  return bpe;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !id_present_[id]) return nullptr;
  return &id_to_token_[id];
}

void BpeModel::InitialSymbols(std::string_view piece, std::vector<int32_t>* symbols) const {
  // Unknown characters: with an unk token each becomes unk (fuse_unk is rejected at load);
  // without one they are dropped, as in HF.
  if (byte_level_) {
    for (char c : piece) {
      const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
      if (id >= 0) symbols->push_back(id);
      else if (unk_id_) symbols->push_back(*unk_id_);
    }
    return;
  }
  for (size_t i = 0; i < piece.size();) {
    char32_t cp;
    size_t n = utf8::DecodeOne(piece, i, &cp);
    if (n == 0) n = 1;
    const auto id = TokenToId(piece.substr(i, n));
    if (id) symbols->push_back(*id);
    else if (unk_id_) symbols->push_back(*unk_id_);
    i += n;
  }
}

void BpeModel::MergeAll(std::vector<int32_t>* symbols) const {
  // The same algorithm as tokenizers' Word::merge_all: a min-heap of candidate merges ordered by
  // (rank, position); stale candidates are recognised by re-checking the pair's merge result.
  std::vector<int32_t>& sym = *symbols;
  const int n = static_cast<int>(sym.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  std::vector<uint8_t> alive(n, 1);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  for (int i = 0; i + 1 < n; ++i) {
    if (const auto* m = merges_.Find(sym[i], sym[i + 1])) queue.push({m->rank, i, m->new_id});
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    if (!alive[top.pos] || next[top.pos] < 0) continue;
    const int right = next[top.pos];
    const auto* m = merges_.Find(sym[top.pos], sym[right]);
    if (m == nullptr || m->new_id != top.new_id) continue;  // stale candidate
    sym[top.pos] = top.new_id;
    alive[right] = 0;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) {
      const int p = prev[top.pos];
      if (const auto* pm = merges_.Find(sym[p], sym[top.pos])) queue.push({pm->rank, p, pm->new_id});
    }
    if (next[top.pos] >= 0) {
      if (const auto* nm = merges_.Find(sym[top.pos], sym[next[top.pos]])) {
        queue.push({nm->rank, top.pos, nm->new_id});
      }
    }
  }
  int out = 0;
  for (int i = 0; i < n; ++i) {
    if (alive[i]) sym[out++] = sym[i];
  }
  sym.resize(out);
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.empty()) return;
  if (byte_level_ && piece.size() == 1) {  // one byte: one symbol, nothing to merge
    const int32_t id = byte_ids_[static_cast<uint8_t>(piece[0])];
    if (id >= 0) ids->push_back(id);
    else if (unk_id_) ids->push_back(*unk_id_);
    return;
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    const auto it = cache_.find(piece);
    if (it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols;
  std::optional<int32_t> whole;
  if (ignore_merges_) {
    // HF: a piece that is itself a vocabulary token is emitted as is, without merging.
    whole = byte_level_ ? TokenToId(byte_level::Encode(piece)) : TokenToId(piece);
  }
  if (whole) {
    symbols.push_back(*whole);
  } else {
    symbols.reserve(piece.size());
    InitialSymbols(piece, &symbols);
    MergeAll(&symbols);
  }
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(piece), std::move(symbols));
  }
}

}  // namespace dsvl2
