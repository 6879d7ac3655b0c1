#include "base/tensor.h"

#include <algorithm>

#include "base/half.h"
#include "base/logging.h"
#include "base/quant.h"

namespace dsvl2 {

size_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF64: case DType::kI64: return 8;
    case DType::kF32: case DType::kI32: return 4;
    case DType::kF16: case DType::kBF16: case DType::kI16: return 2;
    case DType::kI8: case DType::kU8: case DType::kBool: return 1;
    case DType::kQ8_0: case DType::kQ4_0: break;
  }
  DSVL2_CHECK_MSG(false, std::string("DTypeSize on quantized dtype ") + DTypeName(t));
}

size_t RowBytes(DType t, int64_t k) {
  return IsQuantized(t) ? QuantRowBytes(t, k) : static_cast<size_t>(k) * DTypeSize(t);
}

size_t StorageBytes(DType t, const Shape& s) {
  if (!IsQuantized(t)) return static_cast<size_t>(NumElements(s)) * DTypeSize(t);
  if (s.empty()) return 0;
  const int64_t k = s.back();
  return k ? QuantMatrixBytes(t, NumElements(s) / k, k) : 0;  // whole 16-row panels
}

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kF64: return "F64";
    case DType::kI64: return "I64";
    case DType::kI32: return "I32";
    case DType::kI16: return "I16";
    case DType::kI8: return "I8";
    case DType::kU8: return "U8";
    case DType::kBool: return "BOOL";
    case DType::kQ8_0: return "Q8_0";
    case DType::kQ4_0: return "Q4_0";
  }
  return "?";
}

bool ParseDType(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> kTable[] = {
      {"F32", DType::kF32}, {"F16", DType::kF16}, {"BF16", DType::kBF16}, {"F64", DType::kF64},
      {"I64", DType::kI64}, {"I32", DType::kI32}, {"I16", DType::kI16},   {"I8", DType::kI8},
      {"U8", DType::kU8},   {"BOOL", DType::kBool}};
  for (const auto& [name, t] : kTable) {
    if (s == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

std::string ShapeToString(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ",";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

int64_t NumElements(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

float TensorView::At(int64_t i) const {
  switch (dtype) {
    case DType::kF32: return static_cast<const float*>(data)[i];
    case DType::kBF16: return Bf16ToF32(static_cast<const uint16_t*>(data)[i]);
    case DType::kF16: return F16ToF32(static_cast<const uint16_t*>(data)[i]);
    case DType::kF64: return static_cast<float>(static_cast<const double*>(data)[i]);
    case DType::kU8: return static_cast<const uint8_t*>(data)[i];
    case DType::kI64: return static_cast<float>(static_cast<const int64_t*>(data)[i]);
    case DType::kI32: return static_cast<float>(static_cast<const int32_t*>(data)[i]);
    case DType::kQ8_0:
    case DType::kQ4_0: {
      const int64_t k = shape.back();
      return DequantizeAt(dtype, static_cast<const uint8_t*>(data), k, i / k, i % k);
    }
    default: break;
  }
  DSVL2_CHECK_MSG(false, std::string("TensorView::At on dtype ") + DTypeName(dtype));
}

TensorView TensorView::Row(int64_t r) const {
  DSVL2_CHECK(rank() >= 1);
  DSVL2_CHECK_MSG(!IsQuantized(dtype), "Row of a block-quantized tensor (rows are interleaved in panels)");
  TensorView v;
  v.dtype = dtype;
  v.shape = Shape(shape.begin() + 1, shape.end());
  v.data = static_cast<const char*>(data) + static_cast<size_t>(r) * StorageBytes(dtype, v.shape);
  return v;
}

TensorView TensorView::Rows(int64_t begin, int64_t count) const {
  DSVL2_CHECK(rank() >= 1 && begin >= 0 && begin + count <= shape[0]);
  const int64_t inner = NumElements(shape) / std::max<int64_t>(shape[0], 1) / std::max<int64_t>(shape.back(), 1);
  DSVL2_CHECK_MSG(!IsQuantized(dtype) || (begin * inner % kQuantPanel == 0 &&
                                          ((begin + count) * inner % kQuantPanel == 0 || begin + count == shape[0])),
                  "Rows of a block-quantized tensor must start and end on a 16-row panel");
  TensorView v;
  v.dtype = dtype;
  v.shape = shape;
  v.shape[0] = count;
  const Shape inner_shape(shape.begin() + 1, shape.end());
  v.data = static_cast<const char*>(data) +
           (IsQuantized(dtype) ? static_cast<size_t>(begin * inner) * QuantRowBytes(dtype, shape.back())
                               : static_cast<size_t>(begin) * StorageBytes(dtype, inner_shape));
  return v;
}

std::vector<float> TensorView::ToFloat() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) out[static_cast<size_t>(i)] = At(i);
  return out;
}

void Tensor::Reshape(Shape shape) {
  DSVL2_CHECK(NumElements(shape) == numel());
  shape_ = std::move(shape);
}

void Tensor::Resize(Shape shape) {
  shape_ = std::move(shape);
  data_.resize(static_cast<size_t>(NumElements(shape_)));
}

}  // namespace dsvl2
