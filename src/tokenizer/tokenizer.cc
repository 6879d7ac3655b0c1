#include "tokenizer/tokenizer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace dsvl2 {
namespace {

using nlohmann::json;

bool BoolOr(const json& obj, const char* key, bool def) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : def;
}

// A special-token entry of tokenizer_config.json / special_tokens_map.json: a string, an
// AddedToken dict {"content": ...}, or null (no such token).
std::optional<std::string> TokenName(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) {
    return v["content"].get<std::string>();
  }
  if (v.is_null()) return std::string();
  return std::nullopt;
}

// Overrides the names present in a JSON config file; a missing file is not an error.
Status ReadNames(const std::string& path, SpecialTokenNames* names) {
  if (!FileExists(path)) return Status::Ok();
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error(path + ": not a JSON object");
  const std::pair<const char*, std::string*> fields[] = {
      {"bos_token", &names->bos}, {"eos_token", &names->eos}, {"pad_token", &names->pad}};
  for (const auto& [key, dst] : fields) {
    const auto it = j.find(key);
    if (it == j.end()) continue;
    const auto name = TokenName(*it);
    if (!name) return Status::Error(path + ": unexpected value for \"" + key + "\"");
    *dst = *name;
  }
  return Status::Ok();
}

}  // namespace

Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return FromJson(text, path);
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view text,
                                                         const std::string& source) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  Status st;
  try {
    st = tok->Load(text);
  } catch (const json::exception& e) {  // type errors in unexpected places of the document
    st = Status::Error(std::string("malformed tokenizer.json: ") + e.what());
  }
  if (!st.ok()) return st.WithContext("loading tokenizer " + source);
  return tok;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromModelDir(const std::string& dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok, FromFile(dir + "/tokenizer.json"));
  SpecialTokenNames names;
  RETURN_IF_ERROR(ReadNames(dir + "/tokenizer_config.json", &names));
  RETURN_IF_ERROR(ReadNames(dir + "/special_tokens_map.json", &names));
  tok->set_special_token_names(std::move(names));
  return tok;
}

Status Tokenizer::Load(std::string_view text) {
  const json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Error("not valid JSON");
  if (!j.is_object()) return Status::Error("top level is not a JSON object");
  static const json kNull;
  auto get = [&](const char* key) -> const json& {
    const auto it = j.find(key);
    return it == j.end() ? kNull : *it;
  };

  ASSIGN_OR_RETURN(normalizer_, Normalizer::FromJson(get("normalizer")));
  ASSIGN_OR_RETURN(pre_tokenizer_, PreTokenizer::FromJson(get("pre_tokenizer")));
  if (!j.contains("model")) return Status::Error("missing \"model\"");
  ASSIGN_OR_RETURN(model_, BpeModel::FromJson(get("model"), pre_tokenizer_->byte_level()));

  // The post-processor only matters with add_special_tokens=True, which Encode never does.
  const json& decoder = get("decoder");
  if (decoder.is_object() && decoder.value("type", "") == "ByteLevel") {
    byte_level_decoder_ = true;
  } else if (!decoder.is_null()) {
    return Status::Error("unsupported decoder " + decoder.dump() + " (only ByteLevel or null)");
  }

  const json& added = get("added_tokens");
  if (!added.is_null() && !added.is_array()) return Status::Error("\"added_tokens\" must be an array");
  for (const json& a : added.is_array() ? added : json::array()) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
        !a.contains("content") || !a["content"].is_string()) {
      return Status::Error("added token without integer \"id\" and string \"content\": " + a.dump());
    }
    AddedToken t;
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0 || id >= (1 << 24)) return Status::Error("added token with invalid id: " + a.dump());
    t.id = static_cast<int32_t>(id);
    t.content = a["content"].get<std::string>();
    t.special = BoolOr(a, "special", false);
    t.single_word = BoolOr(a, "single_word", false);
    t.lstrip = BoolOr(a, "lstrip", false);
    t.rstrip = BoolOr(a, "rstrip", false);
    t.normalized = BoolOr(a, "normalized", !t.special);
    added_.Add(t);
  }
  added_.Rebuild(normalizer_);
  RebuildDecodeTable();
  return Status::Ok();
}

void Tokenizer::RebuildDecodeTable() {
  const size_t n = static_cast<size_t>(vocab_size());
  decoded_.assign(n, std::string());
  known_.assign(n, 0);
  for (size_t id = 0; id < n; ++id) {
    const auto s = TokenString(static_cast<int32_t>(id));
    if (!s) continue;
    known_[id] = 1;
    decoded_[id] = byte_level_decoder_ ? byte_level::DecodeToken(*s) : *s;
  }
}

int32_t Tokenizer::vocab_size() const {
  return std::max(model_->max_id(), added_.max_id()) + 1;
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view token) const {
  if (auto id = added_.TokenToId(token)) return id;
  return model_->TokenToId(token);
}

std::optional<std::string> Tokenizer::TokenString(int32_t id) const {
  if (const AddedToken* t = added_.Find(id)) return t->content;
  if (const std::string* s = model_->IdToToken(id)) return *s;
  return std::nullopt;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const AddedToken* t = added_.Find(id);
  return t != nullptr && t->special;
}

int Tokenizer::AddSpecialTokens(std::span<const std::string> tokens) {
  int added = 0;
  for (const std::string& content : tokens) {
    if (content.empty()) continue;
    AddedToken t;
    t.content = content;
    t.special = true;
    t.normalized = false;
    if (const auto existing = added_.TokenToId(content)) {
      const AddedToken* old = added_.Find(*existing);
      if (old && old->special && !old->normalized && !old->lstrip && !old->rstrip && !old->single_word) {
        continue;  // exactly this token is already there
      }
    }
    if (const auto id = TokenId(content)) {
      t.id = *id;
    } else {
      // tokenizers' rule: after the highest added id if that is past the model vocabulary,
      // else at the model vocabulary size.
      const int32_t model_size = static_cast<int32_t>(model_->vocab_count());
      const int32_t max_added = added_.max_id();
      const bool after_added = max_added >= 0 && (max_added >= model_size || model_size == 0);
      t.id = after_added ? max_added + 1 : model_size;
    }
    added_.Add(t);
    ++added;
  }
  added_.Rebuild(normalizer_);
  RebuildDecodeTable();
  return added;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text) const {
  std::string repaired;
  if (!utf8::IsValid(text)) {
    repaired = utf8::ToValidLossy(text);
    text = repaired;
  }
  TextArena arena;
  std::vector<AddedVocabulary::Segment> segments;
  added_.Split(text, normalizer_, &segments, &arena);
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 8);
  std::vector<std::string_view> pieces;
  for (const auto& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
      continue;
    }
    pieces.clear();
    pre_tokenizer_->Split(seg.text, &pieces, &arena);
    for (std::string_view piece : pieces) model_->Encode(piece, &ids);
  }
  return ids;
}

bool Tokenizer::AppendTokenBytes(int32_t id, bool skip_special, bool first,
                                 std::string* out) const {
  if (id < 0 || static_cast<size_t>(id) >= known_.size() || !known_[id]) return false;
  if (skip_special && IsSpecial(id)) return false;
  if (!byte_level_decoder_ && !first) out->push_back(' ');
  out->append(decoded_[id]);
  return true;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (AppendTokenBytes(id, skip_special, first, &bytes)) first = false;
  }
  return utf8::IsValid(bytes) ? bytes : utf8::ToValidLossy(bytes);
}

}  // namespace dsvl2
