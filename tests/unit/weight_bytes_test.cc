// The weight-byte accounting behind the decode roofline of `dsvl2 bench`: DeepseekV2::WeightBytes
// equals the sizes computed by hand from each fixture's config, and the bytes of one decode step
// are the non-routed weights + the embedding rows used + exactly the routed experts the batch's
// rows were sent to (ForwardTrace::used_experts, the union of each row's own experts).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "model/deepseek_vl2.h"
#include "runtime/kv_cache.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

class WeightBytesTest : public ::testing::TestWithParam<const char*> {};

// Sizes from the config alone; every fixture matrix is bf16 (2 bytes), norm vectors count as f32.
LmWeightBytes HandComputed(const LanguageConfig& c) {
  const int64_t d = c.hidden_size, v = c.vocab_size, h = c.num_attention_heads, bf = 2;
  LmWeightBytes w;
  w.embed = v * d * bf;
  w.embed_row = d * bf;
  w.lm_head = v * d * bf;
  int64_t attn = 0;
  if (c.use_mla) {
    const int64_t qh = c.qk_nope_head_dim + c.qk_rope_head_dim;
    attn += c.q_lora_rank > 0
                ? (c.q_lora_rank * d + h * qh * c.q_lora_rank) * bf + c.q_lora_rank * 4
                : h * qh * d * bf;
    attn += (c.kv_lora_rank + c.qk_rope_head_dim) * d * bf + c.kv_lora_rank * 4;  // kv_a + its norm
    attn += h * (c.qk_nope_head_dim + c.v_head_dim) * c.kv_lora_rank * bf;        // kv_b
    attn += d * h * c.v_head_dim * bf;                                            // o
  } else {
    attn = 4 * d * d * bf;
  }
  const int64_t expert = 3 * d * c.moe_intermediate_size * bf;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    w.attention += attn;
    w.norms += 2 * d * 4;
    if (!c.IsMoeLayer(l)) {
      w.dense_mlp += 3 * d * c.intermediate_size * bf;
      continue;
    }
    w.router +=
        c.n_routed_experts * d * bf + (c.topk_method == "noaux_tc" ? c.n_routed_experts * 4 : 0);
    w.shared_experts += c.n_shared_experts * expert;
    w.routed.push_back(std::vector<int64_t>(static_cast<size_t>(c.n_routed_experts), expert));
  }
  w.norms += d * 4;
  return w;
}

TEST_P(WeightBytesTest, BreakdownMatchesConfig) {
  auto m = DeepseekVL2::Load(testing::DataDir() + "/fixtures/" + GetParam());
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DeepseekV2& lm = (*m)->language();
  const LmWeightBytes got = lm.WeightBytes(), want = HandComputed(lm.config());
  EXPECT_EQ(got.embed, want.embed);
  EXPECT_EQ(got.embed_row, want.embed_row);
  EXPECT_EQ(got.attention, want.attention);
  EXPECT_EQ(got.dense_mlp, want.dense_mlp);
  EXPECT_EQ(got.shared_experts, want.shared_experts);
  EXPECT_EQ(got.router, want.router);
  EXPECT_EQ(got.norms, want.norms);
  EXPECT_EQ(got.lm_head, want.lm_head);
  EXPECT_EQ(got.routed, want.routed);
  int64_t by_dtype = 0;
  for (const auto& [name, bytes] : got.by_dtype) by_dtype += bytes;
  EXPECT_EQ(by_dtype, got.total());
  EXPECT_GT(got.by_dtype.at("BF16"), got.total() / 2);
}

TEST_P(WeightBytesTest, DecodeStepReadsTheExpertsTheRowsUsed) {
  auto m = DeepseekVL2::Load(testing::DataDir() + "/fixtures/" + GetParam());
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DeepseekV2& lm = (*m)->language();
  const LanguageConfig& c = lm.config();
  const int64_t d = c.hidden_size, b = 3;
  const LmWeightBytes w = lm.WeightBytes(), hand = HandComputed(c);
  const int moe_layers = static_cast<int>(hand.routed.size());
  const int64_t expert = 3 * d * c.moe_intermediate_size * 2;
  const std::vector<int32_t> ids = {5, 77, 5};  // two distinct embedding rows
  Tensor x({b, d}), logits;
  ASSERT_TRUE(lm.Embed(ids.data(), b, x.data()).ok());

  // Batch 1: k experts per MoE layer; bytes = hand-computed non-routed + 1 row + k experts/layer.
  {
    KvPool pool(lm.num_layers(), lm.kv_row_width(), 4, 8);
    PagedSequenceKv kv(&pool);
    Tensor x1({1, d});
    std::copy(x.row(0), x.row(1), x1.data());
    ForwardTrace trace;
    ASSERT_TRUE(lm.Forward(x1, {SeqSlice{&kv, 0, 1}}, {0}, &logits, &trace).ok());
    ASSERT_EQ(static_cast<int>(trace.used_experts.size()), moe_layers);
    for (const auto& layer : trace.used_experts)
      EXPECT_EQ(static_cast<int>(layer.size()), c.num_experts_per_tok);
    const int64_t non_routed = hand.attention + hand.dense_mlp + hand.shared_experts + hand.router +
                               hand.norms + hand.lm_head;
    EXPECT_EQ(w.StepBytes(1, trace.used_experts),
              non_routed + d * 2 + int64_t{moe_layers} * c.num_experts_per_tok * expert);
  }

  // Batch 3 (one row per sequence): used_experts is the union of each row's own experts.
  std::vector<std::set<int>> expect(static_cast<size_t>(moe_layers));
  std::vector<std::vector<int>> used;
  for (int64_t row = 0; row < b; ++row) {
    KvPool pool(lm.num_layers(), lm.kv_row_width(), 4, 8);
    std::vector<std::unique_ptr<PagedSequenceKv>> kvs;
    std::vector<SeqSlice> slices;
    for (int64_t i = 0; i < b; ++i) {
      kvs.push_back(std::make_unique<PagedSequenceKv>(&pool));
      slices.push_back({kvs.back().get(), i, 1});
    }
    ForwardTrace trace;
    trace.row = row;
    ASSERT_TRUE(lm.Forward(x, slices, {0, 1, 2}, &logits, &trace).ok());
    for (int l = 0; l < moe_layers; ++l)
      expect[static_cast<size_t>(l)].insert(trace.experts[static_cast<size_t>(l)].begin(),
                                            trace.experts[static_cast<size_t>(l)].end());
    used = trace.used_experts;
  }
  int64_t routed = 0;
  for (int l = 0; l < moe_layers; ++l) {
    const auto& u = used[static_cast<size_t>(l)];
    EXPECT_EQ(std::set<int>(u.begin(), u.end()), expect[static_cast<size_t>(l)]) << "layer " << l;
    EXPECT_TRUE(std::is_sorted(u.begin(), u.end()));
    routed += static_cast<int64_t>(u.size()) * expert;
  }
  EXPECT_EQ(w.StepBytes(2, used), w.NonRouted() + 2 * w.embed_row + routed);
}

INSTANTIATE_TEST_SUITE_P(Models, WeightBytesTest,
                         ::testing::Values("tiny-mha", "small-mla", "base-mla-sigmoid"));

}  // namespace
}  // namespace dsvl2
