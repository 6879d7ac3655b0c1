// Binds the tensors a model needs, checking name, shape and dtype against the config before any
// compute. Collects every problem; the first is reported as one line naming the tensor, e.g.
//   language.model.layers.3.mlp.experts.7.up_proj.weight: expected [1408,2048] bf16, found [1408,2047] bf16
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/safetensors.h"

namespace dsvl2 {

// Load-time conversion of selected matrices (e.g. the language model's linear weights) to another
// storage type: bf16, or block-quantized q8_0 / q4_0 (base/quant.h). Quantized targets apply only
// to matrices whose last dimension is a multiple of 32; others stay as stored.
struct WeightConversion {
  bool enabled = false;
  DType target = DType::kBF16;
  std::function<bool(const std::string& name)> applies;
  // Matrices kept as stored are copied out of the file mapping into anonymous memory (huge
  // pages advised, OwnedWeights), and the mapping's pages are released (EngineOptions::
  // weight_memory decides; docs/DESIGN.md has the measurements).
  bool copy_to_memory = false;
};

// Parses a --weights value: "" (as stored), "bf16", "q8" / "q8_0", "q4" / "q4_0".
StatusOr<WeightConversion> ParseWeightConversion(const std::string& spec);

// Anonymous memory for weights converted or copied at load time (transparent huge pages advised,
// so streaming gigabytes of weights per token takes fewer TLB misses). Move-only.
class WeightBuffer {
 public:
  // `align`: alignment of data() (a power of two; 2 MiB lets the kernel back it with huge pages).
  explicit WeightBuffer(size_t bytes, size_t align = 64);
  WeightBuffer(WeightBuffer&& o) noexcept : map_(o.map_), map_size_(o.map_size_), data_(o.data_) {
    o.map_ = nullptr;
    o.map_size_ = 0;
    o.data_ = nullptr;
  }
  WeightBuffer& operator=(WeightBuffer&&) = delete;
  WeightBuffer(const WeightBuffer&) = delete;
  ~WeightBuffer();
  uint8_t* data() const { return data_; }

 private:
  void* map_ = nullptr;
  size_t map_size_ = 0;
  uint8_t* data_ = nullptr;
};

// Buffers holding converted or copied weights; whoever owns the model owns this. Matrices are
// carved one after another (64-byte aligned) out of large 2 MiB-aligned chunks, so that the small
// matrices too (a vl2-tiny q8_0 expert matrix is 1.2 MB) lie on huge pages; each allocation's
// pages are faulted in when it is made.
class OwnedWeights {
 public:
  static constexpr size_t kChunkBytes = size_t{256} << 20;
  uint8_t* Allocate(size_t bytes);
  size_t allocated_bytes() const { return allocated_; }

 private:
  std::vector<WeightBuffer> chunks_;
  size_t chunk_size_ = 0, chunk_used_ = 0, allocated_ = 0;
};

// A copy of `v` (2-D, any float or quantized dtype) as `target`, written into a new buffer
// appended to `owned` (rows converted in parallel). Quantized targets need v.dim(1) % 32 == 0.
TensorView ConvertMatrix(const TensorView& v, DType target, OwnedWeights* owned);
// Same, into `dst` (RowBytes(target, v.dim(1)) * v.dim(0) bytes).
void ConvertMatrixInto(const TensorView& v, DType target, uint8_t* dst);

class WeightBinder {
 public:
  explicit WeightBinder(const TensorStore* store) : store_(store) {}
  // Matrices for which `conv.applies(name)` are converted into buffers appended to `owned`.
  WeightBinder(const TensorStore* store, WeightConversion conv, OwnedWeights* owned)
      : store_(store), conv_(std::move(conv)), owned_(owned) {}

  // A floating-point (f32, f16, bf16) or block-quantized (q8_0, q4_0) tensor of exactly `shape`,
  // converted as the WeightConversion says. On a problem, records it and returns an empty view.
  TensorView Matrix(const std::string& name, const Shape& shape);
  // Same, converted to float32 (norm weights, biases, small vectors).
  std::vector<float> Vector(const std::string& name, const Shape& shape);

  // OK, or the first problem (with a count of the others).
  Status status() const;
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  const TensorView* Check(const std::string& name, const Shape& shape);
  const TensorStore* store_;
  WeightConversion conv_;
  OwnedWeights* owned_ = nullptr;
  std::vector<std::string> problems_;
};

}  // namespace dsvl2
