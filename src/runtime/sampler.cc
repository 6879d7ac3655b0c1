#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsvl2 {

Sampler::Sampler(const SamplingParams& params) : p_(params), rng_(params.seed) {}

int32_t ArgMax(const float* logits, int64_t vocab) {
  return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
}

void ApplyRepetitionPenalty(float* logits, int64_t vocab, const std::vector<int32_t>& history,
                            float penalty, std::vector<uint8_t>* seen) {
  if (penalty == 1.0f) return;
  seen->assign(static_cast<size_t>(vocab), 0);
  for (int32_t id : history) {
    if (id < 0 || id >= vocab || (*seen)[static_cast<size_t>(id)]) continue;
    (*seen)[static_cast<size_t>(id)] = 1;
    float& l = logits[id];
    l = l > 0 ? l / penalty : l * penalty;
  }
}

int32_t Sampler::Next(float* logits, int64_t vocab, const std::vector<int32_t>& history) {
  ApplyRepetitionPenalty(logits, vocab, history, p_.repetition_penalty, &seen_);
  if (p_.temperature <= 0.0f) return ArgMax(logits, vocab);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < vocab; ++i) logits[i] /= p_.temperature;
  // top-k: keep logits >= the k-th largest (ties kept, as torch.topk(...)[0][..., -1]).
  if (p_.top_k > 0 && p_.top_k < vocab) {
    std::vector<float> tmp(logits, logits + vocab);
    std::nth_element(tmp.begin(), tmp.begin() + (p_.top_k - 1), tmp.end(), std::greater<float>());
    const float kth = tmp[static_cast<size_t>(p_.top_k - 1)];
    for (int64_t i = 0; i < vocab; ++i)
      if (logits[i] < kth) logits[i] = neg_inf;
  }
  // Probabilities.
  const float mx = *std::max_element(logits, logits + vocab);
  std::vector<double> probs(static_cast<size_t>(vocab));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    probs[static_cast<size_t>(i)] = logits[i] == neg_inf ? 0.0 : std::exp(static_cast<double>(logits[i] - mx));
    sum += probs[static_cast<size_t>(i)];
  }
  for (double& q : probs) q /= sum;
  // top-p (HF TopPLogitsWarper): sort ascending, drop the tokens whose cumulative probability is
  // <= 1 - top_p; the most likely token always stays.
  if (p_.top_p < 1.0f) {
    order_.resize(static_cast<size_t>(vocab));
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) {
      return logits[a] < logits[b];
    });
    double cum = 0;
    for (int64_t r = 0; r < vocab - 1; ++r) {
      const int32_t id = order_[static_cast<size_t>(r)];
      cum += probs[static_cast<size_t>(id)];
      if (cum <= 1.0 - p_.top_p) probs[static_cast<size_t>(id)] = 0.0;
    }
    sum = std::accumulate(probs.begin(), probs.end(), 0.0);
    for (double& q : probs) q /= sum;
  }
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double r = u(rng_), acc = 0;
  int32_t last_nonzero = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (probs[static_cast<size_t>(i)] <= 0) continue;
    last_nonzero = static_cast<int32_t>(i);
    acc += probs[static_cast<size_t>(i)];
    if (r < acc) return static_cast<int32_t>(i);
  }
  return last_nonzero;
}

}  // namespace dsvl2
