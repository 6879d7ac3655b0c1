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

// A block-quantized dtype (q8_0 / q4_0, base/quant.h) is written as a U8 tensor of shape
// [rows, row_bytes] plus the metadata entry "dsvl2.quant.<name>": "<format>,[logical shape]"
// (e.g. "q4_0,[1408,2048]"), which SafetensorsFile::Open reads back as the quantized view.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kBF16;
  Shape shape;
  // Fills `out` (exactly StorageBytes(dtype, shape) bytes) with the tensor's bytes.
  std::function<void(uint8_t* out)> fill;
};

// The metadata key recording the format of quantized tensor `name`.
std::string QuantMetadataKey(const std::string& name);

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace dsvl2
