#include "io/weights.h"

#include <cstring>

#include "base/half.h"
#include "base/quant.h"
#include "base/thread_pool.h"

namespace dsvl2 {
namespace {
bool IsWeightDType(DType t) {  // float or block-quantized
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || IsQuantized(t);
}

// Row r of a 2-D view as float32.
void RowToFloat(const TensorView& v, int64_t r, float* out) {
  const int64_t k = v.dim(1);
  const uint8_t* p = static_cast<const uint8_t*>(v.data) + static_cast<size_t>(r) * RowBytes(v.dtype, k);
  switch (v.dtype) {
    case DType::kF32: std::memcpy(out, p, static_cast<size_t>(k) * 4); return;
    case DType::kBF16:
      for (int64_t i = 0; i < k; ++i) out[i] = Bf16ToF32(reinterpret_cast<const uint16_t*>(p)[i]);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < k; ++i) out[i] = F16ToF32(reinterpret_cast<const uint16_t*>(p)[i]);
      return;
    default: DequantizeRow(v.dtype, p, k, out);
  }
}
std::string Lower(const char* s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
}  // namespace

const TensorView* WeightBinder::Check(const std::string& name, const Shape& shape) {
  const TensorView* t = store_->Find(name);
  if (!t) {
    problems_.push_back(name + ": missing (expected " + ShapeToString(shape) + " bf16|f16|f32)");
    return nullptr;
  }
  const std::string want_dtype = IsWeightDType(t->dtype) ? Lower(DTypeName(t->dtype)) : "bf16|f16|f32";
  if (t->shape != shape || !IsWeightDType(t->dtype)) {
    problems_.push_back(name + ": expected " + ShapeToString(shape) + " " + want_dtype + ", found " +
                        ShapeToString(t->shape) + " " + Lower(DTypeName(t->dtype)));
    return nullptr;
  }
  return t;
}

StatusOr<WeightConversion> ParseWeightConversion(const std::string& spec) {
  WeightConversion c;
  if (spec.empty()) return c;
  c.enabled = true;
  if (spec == "bf16") {
    c.target = DType::kBF16;
  } else if (!ParseQuantFormat(spec, &c.target)) {
    return Status::Error("unknown weight type '" + spec + "' (expected bf16, q8 or q4)");
  }
  return c;
}

TensorView ConvertMatrix(const TensorView& v, DType target, OwnedWeights* owned) {
  owned->push_back(std::unique_ptr<uint8_t[]>(new uint8_t[RowBytes(target, v.dim(1)) * static_cast<size_t>(v.dim(0))]));
  ConvertMatrixInto(v, target, owned->back().get());
  return TensorView{target, v.shape, owned->back().get()};
}

void ConvertMatrixInto(const TensorView& v, DType target, uint8_t* dst) {
  const int64_t n = v.dim(0), k = v.dim(1);
  const size_t rb = RowBytes(target, k);
  ThreadPool::Global().ParallelFor(n, 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
      RowToFloat(v, r, row.data());
      uint8_t* out = dst + static_cast<size_t>(r) * rb;
      if (IsQuantized(target)) {
        QuantizeRow(target, row.data(), k, out);
      } else if (target == DType::kBF16) {
        for (int64_t i = 0; i < k; ++i) reinterpret_cast<uint16_t*>(out)[i] = F32ToBf16(row[static_cast<size_t>(i)]);
      } else if (target == DType::kF16) {
        for (int64_t i = 0; i < k; ++i) reinterpret_cast<uint16_t*>(out)[i] = F32ToF16(row[static_cast<size_t>(i)]);
      } else {
        std::memcpy(out, row.data(), rb);
      }
    }
  });
}

TensorView WeightBinder::Matrix(const std::string& name, const Shape& shape) {
  const TensorView* t = Check(name, shape);
  if (!t) return TensorView{};
  if (!conv_.enabled || !owned_ || t->rank() != 2 || t->dtype == conv_.target ||
      (conv_.applies && !conv_.applies(name)))
    return *t;
  if (IsQuantized(conv_.target) && t->dim(1) % kQuantBlock != 0) return *t;  // stays as stored
  return ConvertMatrix(*t, conv_.target, owned_);
}

std::vector<float> WeightBinder::Vector(const std::string& name, const Shape& shape) {
  const TensorView* t = Check(name, shape);
  if (!t) return std::vector<float>(static_cast<size_t>(NumElements(shape)), 0.0f);
  return t->ToFloat();
}

Status WeightBinder::status() const {
  if (problems_.empty()) return Status::Ok();
  std::string msg = problems_.front();
  if (problems_.size() > 1)
    msg += StrFormat(" (and %zu more tensor problems)", problems_.size() - 1);
  return Status::Error(msg);
}

}  // namespace dsvl2
