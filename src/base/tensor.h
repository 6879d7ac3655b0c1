// Element types and non-owning tensor views (weights live in memory-mapped files), plus a small
// owning float32 tensor for activations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace dsvl2 {

// kQ8_0 / kQ4_0 are block-quantized weights (base/quant.h): they have no per-element size;
// use StorageBytes / RowBytes. On disk they are U8 tensors described in the safetensors metadata.
enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool, kQ8_0, kQ4_0 };

// Bytes per element; a programming error (check failure) for the quantized types.
size_t DTypeSize(DType t);
const char* DTypeName(DType t);  // safetensors spelling: F32, BF16, ... (Q8_0, Q4_0: not on disk)
// The safetensors dtypes only (not the quantized ones).
bool ParseDType(const std::string& s, DType* out);

using Shape = std::vector<int64_t>;
std::string ShapeToString(const Shape& s);  // "[1408,2048]"
int64_t NumElements(const Shape& s);
// Bytes a tensor of this dtype and shape occupies (quantized: rows x RowBytes of the last dim).
size_t StorageBytes(DType t, const Shape& s);
// Bytes of one row of `k` elements (the stride between rows of a [rows, k] tensor).
size_t RowBytes(DType t, int64_t k);

// A read-only view of a tensor stored elsewhere (usually a memory-mapped checkpoint).
struct TensorView {
  DType dtype = DType::kF32;
  Shape shape;
  const void* data = nullptr;

  int64_t numel() const { return NumElements(shape); }
  size_t nbytes() const { return StorageBytes(dtype, shape); }
  int64_t dim(int i) const { return shape[static_cast<size_t>(i < 0 ? i + shape.size() : i)]; }
  int rank() const { return static_cast<int>(shape.size()); }
  bool valid() const { return data != nullptr; }
  // Element i converted to float (any float or quantized dtype).
  float At(int64_t i) const;
  // Row r of a 2-D (or flattened-leading-dims) tensor, as a view.
  TensorView Row(int64_t r) const;
  // Rows [begin, begin+count) of the leading dimension, as a view.
  TensorView Rows(int64_t begin, int64_t count) const;
  // Converts the whole tensor to float32.
  std::vector<float> ToFloat() const;
};

// A float32 vector (norm weights, biases) as a 1-D view.
inline TensorView VectorView(const std::vector<float>& v) {
  return TensorView{DType::kF32, {static_cast<int64_t>(v.size())}, v.data()};
}

// Owning float32 tensor for activations. Shape comments follow PyTorch order.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape) : shape_(std::move(shape)), data_(NumElements(shape_), 0.0f) {}
  Tensor(std::initializer_list<int64_t> shape) : Tensor(Shape(shape)) {}

  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i < 0 ? i + shape_.size() : i)]; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return static_cast<int64_t>(data_.size()); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float* row(int64_t r) { return data_.data() + r * shape_.back(); }
  const float* row(int64_t r) const { return data_.data() + r * shape_.back(); }
  std::vector<float>& vec() { return data_; }
  const std::vector<float>& vec() const { return data_; }

  // Same data, new shape (element count must match).
  void Reshape(Shape shape);
  // Resizes (contents unspecified) without freeing capacity.
  void Resize(Shape shape);
  TensorView view() const { return TensorView{DType::kF32, shape_, data_.data()}; }

 private:
  Shape shape_;
  std::vector<float> data_;
};

}  // namespace dsvl2
