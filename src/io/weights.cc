#include "io/weights.h"

namespace dsvl2 {
namespace {
bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }
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
  const std::string want_dtype = IsFloat(t->dtype) ? Lower(DTypeName(t->dtype)) : "bf16|f16|f32";
  if (t->shape != shape || !IsFloat(t->dtype)) {
    problems_.push_back(name + ": expected " + ShapeToString(shape) + " " + want_dtype + ", found " +
                        ShapeToString(t->shape) + " " + Lower(DTypeName(t->dtype)));
    return nullptr;
  }
  return t;
}

TensorView WeightBinder::Matrix(const std::string& name, const Shape& shape) {
  const TensorView* t = Check(name, shape);
  return t ? *t : TensorView{};
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
