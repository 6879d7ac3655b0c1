#include "io/safetensors_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "base/quant.h"

namespace dsvl2 {

std::string QuantMetadataKey(const std::string& name) { return "dsvl2.quant." + name; }

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::map<std::string, std::string> meta = metadata;
  for (const auto& t : tensors)
    if (IsQuantized(t.dtype))
      meta[QuantMetadataKey(t.name)] = std::string(QuantLayoutName(t.dtype)) + "," + ShapeToString(t.shape);
  if (!meta.empty()) header["__metadata__"] = meta;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    const uint64_t n = StorageBytes(t.dtype, t.shape);
    if (IsQuantized(t.dtype)) {
      const int64_t k = t.shape.empty() ? 0 : t.shape.back();
      if (k % kQuantBlock != 0 || k == 0)
        return Status::Error(path + ": tensor " + t.name + ": " + QuantFormatName(t.dtype) + " needs a last dimension that is a multiple of 32, got " + ShapeToString(t.shape));
      const int64_t rows = QuantPaddedRows(NumElements(t.shape) / k);  // whole 16-row panels
      header[t.name] = {{"dtype", "U8"}, {"shape", {rows, static_cast<int64_t>(QuantRowBytes(t.dtype, k))}},
                        {"data_offsets", {offset, offset + n}}};
    } else {
      header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    }
    offset += n;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8 != 0) h.push_back(' ');
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Status::Error(path + ": cannot create: " + std::strerror(errno));
  const uint64_t hl = h.size();
  bool ok = std::fwrite(&hl, 8, 1, f) == 1 && std::fwrite(h.data(), 1, h.size(), f) == h.size();
  std::vector<uint8_t> buf;
  for (const auto& t : tensors) {
    if (!ok) break;
    buf.resize(StorageBytes(t.dtype, t.shape));
    t.fill(buf.data());
    ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
  }
  if (std::fclose(f) != 0) ok = false;
  if (!ok) return Status::Error(path + ": write failed: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace dsvl2
