// Next-token choice with the semantics of Hugging Face generate() as the official code gets it:
// repetition penalty -> temperature -> top-k -> top-p, then a draw; temperature 0 is greedy.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace dsvl2 {

struct SamplingParams {
  float temperature = 0.0f;         // 0: greedy (argmax)
  float top_p = 1.0f;               // 1: off
  int top_k = 50;                   // HF GenerationConfig default; 0: off (sampling only)
  float repetition_penalty = 1.0f;  // 1: off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // logits: [vocab] (modified in place). `history`: ids the repetition penalty applies to.
  int32_t Next(float* logits, int64_t vocab, const std::vector<int32_t>& history);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<int32_t> order_;
  std::vector<uint8_t> seen_;
};

// HF RepetitionPenaltyLogitsProcessor: for every distinct id in history,
// logit = logit / p if logit > 0 else logit * p.
void ApplyRepetitionPenalty(float* logits, int64_t vocab, const std::vector<int32_t>& history,
                            float penalty, std::vector<uint8_t>* scratch);
int32_t ArgMax(const float* logits, int64_t vocab);

}  // namespace dsvl2
