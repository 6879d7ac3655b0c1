// safetensors reader: memory-mapped, every header field bounds-checked. A model directory may
// hold one `model.safetensors` or shards listed in `model.safetensors.index.json`.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/mapped_file.h"

namespace dsvl2 {

class SafetensorsFile {
 public:
  // Opens and validates the header: JSON well-formed, known dtypes, shape × dtype size equal to
  // the byte range, ranges inside the file and not overlapping.
  static StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);

  const TensorView* Find(const std::string& name) const;
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return file_->path(); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a model directory, across shards.
class TensorStore {
 public:
  static StatusOr<std::unique_ptr<TensorStore>> OpenDir(const std::string& dir);
  // Adds one file (used by OpenDir and by tests).
  Status AddFile(const std::string& path);

  const TensorView* Find(const std::string& name) const;
  // Where a tensor comes from (for error messages).
  std::string FileOf(const std::string& name) const;
  std::vector<std::string> Names() const;
  size_t size() const { return index_.size(); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> index_;  // name -> file index
};

}  // namespace dsvl2
