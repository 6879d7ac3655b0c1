// A batched forward over several sequences of different lengths (some with a cache already)
// gives each sequence the same logits as running it alone; the KV pool is shared and bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "model/deepseek_vl2.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

std::vector<int32_t> RandomIds(int n, int vocab, std::mt19937& rng) {
  std::uniform_int_distribution<int> u(0, vocab - 1);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& i : ids) i = u(rng);
  return ids;
}

class BatchTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BatchTest, BatchedEqualsAlone) {
  auto m = DeepseekVL2::Load(testing::DataDir() + "/fixtures/" + GetParam());
  ASSERT_TRUE(m.ok()) << m.status().message();
  const DeepseekV2& lm = (*m)->language();
  const int64_t d = lm.config().hidden_size, vocab = lm.config().vocab_size;
  KvPool pool(lm.num_layers(), lm.kv_row_width(), 4, 512);
  std::mt19937 rng(7);
  // Three sequences: history lengths 0, 5, 9; new tokens 6, 1, 3.
  const int hist[3] = {0, 5, 9}, fresh[3] = {6, 1, 3};
  std::vector<std::vector<int32_t>> hist_ids, new_ids;
  for (int s = 0; s < 3; ++s) {
    hist_ids.push_back(RandomIds(hist[s], static_cast<int>(vocab), rng));
    new_ids.push_back(RandomIds(fresh[s], static_cast<int>(vocab), rng));
  }
  auto embed = [&](const std::vector<int32_t>& ids) {
    Tensor t({static_cast<int64_t>(ids.size()), d});
    EXPECT_TRUE(lm.Embed(ids.data(), static_cast<int64_t>(ids.size()), t.data()).ok());
    return t;
  };
  // Alone.
  std::vector<std::vector<float>> alone;
  for (int s = 0; s < 3; ++s) {
    PagedSequenceKv kv(&pool);
    Tensor logits;
    if (hist[s] > 0) {
      ASSERT_TRUE(lm.Forward(embed(hist_ids[s]), {{&kv, 0, hist[s]}}, {}, &logits).ok());
    }
    ASSERT_TRUE(lm.Forward(embed(new_ids[s]), {{&kv, 0, fresh[s]}}, {fresh[s] - 1}, &logits).ok());
    alone.emplace_back(logits.data(), logits.data() + vocab);
  }
  // Batched.
  std::vector<std::unique_ptr<PagedSequenceKv>> kvs;
  std::vector<SeqSlice> slices;
  std::vector<int32_t> all;
  std::vector<int64_t> rows;
  for (int s = 0; s < 3; ++s) {
    kvs.push_back(std::make_unique<PagedSequenceKv>(&pool));
    Tensor logits;
    if (hist[s] > 0) {
      ASSERT_TRUE(lm.Forward(embed(hist_ids[s]), {{kvs[s].get(), 0, hist[s]}}, {}, &logits).ok());
    }
    slices.push_back({kvs[s].get(), static_cast<int64_t>(all.size()), fresh[s]});
    all.insert(all.end(), new_ids[s].begin(), new_ids[s].end());
    rows.push_back(static_cast<int64_t>(all.size()) - 1);
  }
  Tensor logits;
  ASSERT_TRUE(lm.Forward(embed(all), slices, rows, &logits).ok());
  for (int s = 0; s < 3; ++s) {
    testing::Diff diff = testing::Compare(logits.row(s), alone[static_cast<size_t>(s)].data(), static_cast<size_t>(vocab));
    EXPECT_LE(diff.max_abs, 1e-5 * std::max(1.0, diff.max_ref)) << "sequence " << s;
    EXPECT_EQ(kvs[s]->length(), hist[s] + fresh[s]);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BatchTest, ::testing::Values("tiny-mha", "small-mla", "base-mla-sigmoid"));

TEST(KvPool, AllocationIsBoundedAndReturned) {
  KvPool pool(2, 8, 4, 3);  // 3 blocks of 4 tokens
  {
    PagedSequenceKv a(&pool), b(&pool);
    ASSERT_TRUE(a.Reserve(5).ok());  // 2 blocks
    EXPECT_EQ(pool.free_blocks(), 1);
    Status st = b.Reserve(5);        // needs 2, 1 free
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("KV cache full"), std::string::npos);
    EXPECT_EQ(pool.free_blocks(), 1);  // failed reservation took nothing
    EXPECT_EQ(b.num_blocks(), 0u);
    a.Row(1, 4)[7] = 42.0f;
    a.Advance(5);
    std::vector<kernels::KvSpan> spans;
    a.Spans(1, 5, &spans);
    ASSERT_EQ(spans.size(), 2u);
    EXPECT_EQ(spans[0].rows, 4);
    EXPECT_EQ(spans[1].rows, 1);
    EXPECT_EQ(spans[1].data[7], 42.0f);
    a.Truncate(2);
    EXPECT_EQ(a.length(), 2);
    ASSERT_TRUE(b.Reserve(4).ok());
  }
  EXPECT_EQ(pool.free_blocks(), 3);
}

// Prefault touches (a prefix of) the pool without changing what it holds or hands out, and the
// first blocks handed out are the prefaulted ones.
TEST(KvPool, PrefaultTouchesTheFirstBlocksOnly) {
  KvPool pool(3, 1000, 16, 40);  // 192 KB per block: several pages each
  EXPECT_EQ(pool.Prefault(0), 0);
  EXPECT_EQ(pool.Prefault(5), 5 * pool.bytes_per_block());
  EXPECT_EQ(pool.Prefault(1000), 40 * pool.bytes_per_block());  // clamped to the pool
  EXPECT_EQ(pool.free_blocks(), 40);
  std::vector<int32_t> got;
  ASSERT_TRUE(pool.Allocate(3, &got));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2}));
  pool.BlockLayer(2, 2)[15 * 1000 + 999] = 7.0f;  // the last float of a block is writable
  EXPECT_EQ(pool.BlockLayer(2, 2)[15 * 1000 + 999], 7.0f);
  pool.Free(got);
  std::vector<int32_t> again;
  ASSERT_TRUE(pool.Allocate(3, &again));  // freed blocks come back first
  std::sort(again.begin(), again.end());
  EXPECT_EQ(again, got);
}

TEST(Forward, RejectsBadBatches) {
  auto m = DeepseekVL2::Load(testing::DataDir() + "/fixtures/tiny-mha");
  ASSERT_TRUE(m.ok());
  const DeepseekV2& lm = (*m)->language();
  KvPool pool(lm.num_layers(), lm.kv_row_width(), 4, 2);  // 8 tokens
  PagedSequenceKv kv(&pool);
  Tensor x({10, lm.config().hidden_size}), logits;
  EXPECT_FALSE(lm.Forward(x, {{&kv, 0, 9}}, {}, &logits).ok());     // rows not covered
  EXPECT_FALSE(lm.Forward(x, {{&kv, 0, 10}}, {10}, &logits).ok());  // logit row out of range
  Status full = lm.Forward(x, {{&kv, 0, 10}}, {9}, &logits);        // cache too small
  EXPECT_FALSE(full.ok());
  EXPECT_EQ(kv.length(), 0);
  int32_t bad = lm.config().vocab_size;
  EXPECT_FALSE(lm.Embed(&bad, 1, x.data()).ok());
}

}  // namespace
}  // namespace dsvl2
