// Writes safetensors files (header + data, 8-byte aligned header as the reference writer does).
// Data is streamed tensor by tensor, so a file larger than memory can be written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"

namespace dsvl2 {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kBF16;
  Shape shape;
  // Fills `out` (exactly numel*dtype_size bytes) with the tensor's bytes.
  std::function<void(uint8_t* out)> fill;
};

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace dsvl2
