#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "base/quant.h"

namespace dsvl2 {
namespace {

using nlohmann::json;

constexpr const char* kQuantPrefix = "dsvl2.quant.";

// Applies a "dsvl2.quant.<name>" metadata entry ("q4_0x16,[n,k]") to the U8 tensor <name>.
Status ApplyQuantMetadata(const std::string& path, const std::string& name, const std::string& value,
                          std::map<std::string, TensorView>* tensors) {
  auto bad = [&](const std::string& why) {
    return Status::Error(path + ": tensor " + name + ": " + why);
  };
  const size_t comma = value.find(',');
  DType q;
  const std::string format = comma == std::string::npos ? value : value.substr(0, comma);
  if (format == "q8_0" || format == "q4_0")
    return bad("'" + format + "' in the metadata is the row-major layout of dsvl2 before 16-row panels; "
               "quantize the model again (dsvl2 quantize / dsvl2 synth --dtype)");
  if (comma == std::string::npos || !ParseQuantLayout(format, &q))
    return bad("unknown quantization format '" + format + "' in metadata (known: q8_0x16, q4_0x16)");
  json sh = json::parse(value.substr(comma + 1), nullptr, false);
  Shape shape;
  if (sh.is_discarded() || !sh.is_array() || sh.empty())
    return bad("quantized shape '" + value.substr(comma + 1) + "' in metadata is not a JSON array");
  for (const auto& d : sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 40)) return bad("bad quantized shape " + sh.dump());
    shape.push_back(d.get<int64_t>());
  }
  if (shape.back() % kQuantBlock != 0 || shape.back() == 0)
    return bad(StrFormat("%s needs a last dimension that is a multiple of 32, got %s", QuantFormatName(q),
                         ShapeToString(shape).c_str()));
  auto it = tensors->find(name);
  if (it == tensors->end()) return bad("named in the quantization metadata but not in the file");
  TensorView& v = it->second;
  if (v.dtype != DType::kU8) return bad(std::string("quantized tensors are stored as U8, found ") + DTypeName(v.dtype));
  const size_t need = StorageBytes(q, shape);
  if (v.nbytes() != need)
    return bad(StrFormat("holds %zu bytes but %s %s needs %zu", v.nbytes(), QuantLayoutName(q),
                         ShapeToString(shape).c_str(), need));
  v.dtype = q;
  v.shape = std::move(shape);
  return Status::Ok();
}


constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

Status ParseEntry(const std::string& path, const std::string& name, const json& e,
                  const uint8_t* data_begin, uint64_t data_size, TensorView* out,
                  std::pair<uint64_t, uint64_t>* range) {
  auto bad = [&](const std::string& why) {
    return Status::Error(path + ": tensor " + name + ": " + why);
  };
  if (!e.is_object()) return bad("header entry is not an object");
  auto dt = e.find("dtype");
  auto sh = e.find("shape");
  auto of = e.find("data_offsets");
  if (dt == e.end() || !dt->is_string()) return bad("missing or non-string dtype");
  if (sh == e.end() || !sh->is_array()) return bad("missing or non-array shape");
  if (of == e.end() || !of->is_array() || of->size() != 2) return bad("data_offsets must be [begin,end]");
  DType dtype;
  if (!ParseDType(dt->get<std::string>(), &dtype)) return bad("unknown dtype " + dt->get<std::string>());
  Shape shape;
  uint64_t count = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) return bad("shape entries must be non-negative integers");
    uint64_t v = d.get<uint64_t>();
    if (v > (1ull << 40) || (v != 0 && count > (1ull << 46) / v)) return bad("shape too large");
    count *= v;
    shape.push_back(static_cast<int64_t>(v));
  }
  if (!(*of)[0].is_number_unsigned() || !(*of)[1].is_number_unsigned())
    return bad("data_offsets must be non-negative integers");
  uint64_t b = (*of)[0].get<uint64_t>(), en = (*of)[1].get<uint64_t>();
  if (b > en) return bad("data_offsets begin > end");
  if (en > data_size)
    return bad(StrFormat("data_offsets end %llu past the end of the data (%llu bytes); file truncated?",
                         static_cast<unsigned long long>(en), static_cast<unsigned long long>(data_size)));
  uint64_t need = StorageBytes(dtype, shape);
  if (en - b != need)
    return bad(StrFormat("byte range %llu does not match shape %s x %s (%llu bytes)",
                         static_cast<unsigned long long>(en - b), ShapeToString(shape).c_str(),
                         DTypeName(dtype), static_cast<unsigned long long>(need)));
  out->dtype = dtype;
  out->shape = std::move(shape);
  out->data = data_begin + b;
  *range = {b, en};
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  const size_t size = file->size();
  if (size < 8) return Status::Error(path + ": too short for a safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t header_len;
  std::memcpy(&header_len, file->data(), 8);
  if (header_len > size - 8 || header_len > kMaxHeaderBytes)
    return Status::Error(StrFormat("%s: header length %llu exceeds file size %zu; file truncated or not safetensors",
                                   path.c_str(), static_cast<unsigned long long>(header_len), size));
  const char* hp = reinterpret_cast<const char*>(file->data() + 8);
  json header = json::parse(hp, hp + header_len, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return Status::Error(path + ": header is not a valid JSON object");
  const uint8_t* data_begin = file->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile());
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return Status::Error(path + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m)
        if (m->is_string()) st->metadata_[m.key()] = m->get<std::string>();
      continue;
    }
    TensorView v;
    std::pair<uint64_t, uint64_t> range;
    RETURN_IF_ERROR(ParseEntry(path, it.key(), *it, data_begin, data_size, &v, &range));
    ranges.push_back({range, it.key()});
    st->tensors_.emplace(it.key(), std::move(v));
  }
  for (const auto& [key, value] : st->metadata_)
    if (key.rfind(kQuantPrefix, 0) == 0)
      RETURN_IF_ERROR(ApplyQuantMetadata(path, key.substr(std::strlen(kQuantPrefix)), value, &st->tensors_));
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first.first < ranges[i - 1].first.second &&
        ranges[i].first.first != ranges[i].first.second)
      return Status::Error(path + ": tensors " + ranges[i - 1].second + " and " + ranges[i].second +
                           " overlap");
  }
  st->file_ = std::move(file);
  return st;
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Status TensorStore::AddFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(path));
  size_t idx = files_.size();
  for (const auto& [name, v] : f->tensors()) {
    if (index_.count(name))
      return Status::Error(path + ": tensor " + name + " also present in " + FileOf(name));
    index_[name] = idx;
  }
  files_.push_back(std::move(f));
  return Status::Ok();
}

StatusOr<std::unique_ptr<TensorStore>> TensorStore::OpenDir(const std::string& dir) {
  namespace fs = std::filesystem;
  auto store = std::make_unique<TensorStore>();
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  const std::string single = (fs::path(dir) / "model.safetensors").string();
  if (FileExists(index_path)) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(index_path));
    json idx = json::parse(text, nullptr, false);
    if (idx.is_discarded() || !idx.is_object() || !idx.contains("weight_map") ||
        !idx["weight_map"].is_object())
      return Status::Error(index_path + ": not a valid index (expected an object with weight_map)");
    std::vector<std::string> shards;
    std::map<std::string, std::string> expected;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it->is_string()) return Status::Error(index_path + ": weight_map." + it.key() + " is not a string");
      std::string shard = it->get<std::string>();
      if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
        return Status::Error(index_path + ": shard name '" + shard + "' is not a plain file name");
      expected[it.key()] = shard;
      if (std::find(shards.begin(), shards.end(), shard) == shards.end()) shards.push_back(shard);
    }
    std::sort(shards.begin(), shards.end());
    for (const auto& s : shards) RETURN_IF_ERROR(store->AddFile((fs::path(dir) / s).string()));
    for (const auto& [name, shard] : expected) {
      if (!store->Find(name))
        return Status::Error(index_path + ": tensor " + name + " listed in shard " + shard + " but not found there");
    }
  } else if (FileExists(single)) {
    RETURN_IF_ERROR(store->AddFile(single));
  } else {
    return Status::Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }
  return store;
}

const TensorView* TensorStore::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : files_[it->second]->Find(name);
}

std::string TensorStore::FileOf(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? std::string() : files_[it->second]->path();
}

std::vector<std::string> TensorStore::Names() const {
  std::vector<std::string> names;
  for (const auto& [n, i] : index_) names.push_back(n);
  return names;
}

}  // namespace dsvl2
