#include <gtest/gtest.h>

#include <map>

#include "runtime/sampler.h"

namespace dsvl2 {
namespace {

TEST(Sampler, GreedyIsArgmax) {
  Sampler s(SamplingParams{});
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 2.9f};
  EXPECT_EQ(s.Next(l.data(), 4, {}), 1);
}

TEST(Sampler, RepetitionPenaltyHfSemantics) {
  std::vector<float> l = {2.0f, -2.0f, 1.0f};
  std::vector<uint8_t> scratch;
  ApplyRepetitionPenalty(l.data(), 3, {0, 1, 1}, 2.0f, &scratch);
  EXPECT_FLOAT_EQ(l[0], 1.0f);   // positive: divided
  EXPECT_FLOAT_EQ(l[1], -4.0f);  // negative: multiplied (once, though repeated)
  EXPECT_FLOAT_EQ(l[2], 1.0f);   // not in history
  SamplingParams p;
  p.repetition_penalty = 3.0f;
  Sampler s(p);
  std::vector<float> l2 = {2.0f, 1.0f};
  EXPECT_EQ(s.Next(l2.data(), 2, {0}), 1);  // greedy after the penalty
}

TEST(Sampler, TopKOneAndTinyTopPAreGreedy) {
  for (int mode = 0; mode < 2; ++mode) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.seed = 3;
    if (mode == 0) p.top_k = 1; else { p.top_k = 0; p.top_p = 1e-6f; }
    Sampler s(p);
    for (int i = 0; i < 50; ++i) {
      std::vector<float> l = {0.0f, 0.5f, 0.4f};
      EXPECT_EQ(s.Next(l.data(), 3, {}), 1);
    }
  }
}

TEST(Sampler, SeededAndDistributed) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.seed = 42;
  Sampler a(p), b(p);
  std::map<int, int> counts;
  for (int i = 0; i < 4000; ++i) {
    std::vector<float> l1 = {0.0f, std::log(3.0f)}, l2 = l1;
    const int x = a.Next(l1.data(), 2, {});
    EXPECT_EQ(x, b.Next(l2.data(), 2, {}));
    ++counts[x];
  }
  EXPECT_NEAR(counts[1] / 4000.0, 0.75, 0.03);
}

TEST(Sampler, TopPKeepsSmallestSetAboveP) {
  // probs 0.5, 0.3, 0.2: top_p=0.6 keeps {0.5, 0.3} (HF: remove cumulative <= 0.4 from the bottom).
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 0.6f;
  p.seed = 1;
  Sampler s(p);
  std::map<int, int> counts;
  for (int i = 0; i < 3000; ++i) {
    std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
    ++counts[s.Next(l.data(), 3, {})];
  }
  EXPECT_EQ(counts[2], 0);
  EXPECT_NEAR(counts[0] / 3000.0, 0.625, 0.03);
}

}  // namespace
}  // namespace dsvl2
