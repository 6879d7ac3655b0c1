// Binds the tensors a model needs, checking name, shape and dtype against the config before any
// compute. Collects every problem; the first is reported as one line naming the tensor, e.g.
//   language.model.layers.3.mlp.experts.7.up_proj.weight: expected [1408,2048] bf16, found [1408,2047] bf16
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor.h"
#include "io/safetensors.h"

namespace dsvl2 {

class WeightBinder {
 public:
  explicit WeightBinder(const TensorStore* store) : store_(store) {}

  // A floating-point tensor (f32, f16 or bf16) of exactly `shape`. On a problem, records it and
  // returns an empty view.
  TensorView Matrix(const std::string& name, const Shape& shape);
  // Same, converted to float32 (norm weights, biases, small vectors).
  std::vector<float> Vector(const std::string& name, const Shape& shape);

  // OK, or the first problem (with a count of the others).
  Status status() const;
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  const TensorView* Check(const std::string& name, const Shape& shape);
  const TensorStore* store_;
  std::vector<std::string> problems_;
};

}  // namespace dsvl2
