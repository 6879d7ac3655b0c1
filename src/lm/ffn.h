// Feed-forward blocks of DeepSeek-V2: the SwiGLU MLP (dense layers, experts, shared experts) and
// the MoE layer (router + routed experts + shared experts).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "io/config.h"
#include "io/weights.h"

namespace dsvl2 {

// down(silu(gate(x)) * up(x))
class SwiGlu {
 public:
  void Bind(const std::string& prefix, int64_t hidden, int64_t inter, WeightBinder* b);
  // x: [T, hidden] -> y: [T, hidden]
  void Forward(const float* x, int64_t t, float* y) const;
  int64_t inter() const { return inter_; }
  const TensorView& gate() const { return gate_; }
  const TensorView& up() const { return up_; }
  const TensorView& down() const { return down_; }
  void VisitWeights(const std::function<void(const TensorView&)>& fn) const;

 private:
  int64_t hidden_ = 0, inter_ = 0;
  TensorView gate_, up_, down_;
};

// Router output for one token: chosen experts and their weights.
struct Routing {
  std::vector<int> experts;     // num_experts_per_tok ids
  std::vector<float> weights;   // same order
};

class MoeLayer {
 public:
  void Bind(const LanguageConfig& cfg, int layer, WeightBinder* b);
  // x: [T, hidden] -> y: [T, hidden]. If `routing` is given it receives each token's routing.
  void Forward(const Tensor& x, Tensor* y, std::vector<Routing>* routing = nullptr) const;
  // The official MoEGate for one row of router logits (exposed for tests).
  Routing Route(const float* logits) const;

  int num_experts() const { return static_cast<int>(experts_.size()); }
  // Bound weights of the router (gate + bias), routed expert `e`, and the shared experts.
  void VisitRouter(const std::function<void(const TensorView&)>& fn) const;
  void VisitExpert(int e, const std::function<void(const TensorView&)>& fn) const;
  void VisitShared(const std::function<void(const TensorView&)>& fn) const;

 private:
  // One expert (or the shared experts) applied to `rows` gathered input rows.
  struct Job {
    const SwiGlu* mlp;
    const float* x;  // [rows, hidden]
    int64_t rows;
    float* h;        // [rows, inter] scratch
    float* out;      // [rows, hidden]
  };
  // Runs small jobs (few rows each, e.g. every chosen expert in decode) with one parallel region
  // for all gate/up products and one for all down products, instead of several per expert.
  static void RunBatched(const std::vector<Job>& jobs, int64_t hidden);

  LanguageConfig cfg_;
  TensorView gate_;                   // [E, hidden]
  std::vector<float> score_bias_;     // e_score_correction_bias (noaux_tc)
  std::vector<SwiGlu> experts_;
  SwiGlu shared_;
  bool has_shared_ = false;
};

}  // namespace dsvl2
