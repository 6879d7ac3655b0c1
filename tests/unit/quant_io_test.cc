// Quantized checkpoints on disk: U8 tensors whose format is in the safetensors __metadata__,
// read back memory-mapped as q8_0 / q4_0 views with consistency checks, and `dsvl2 quantize`
// end to end (its output loads and computes exactly what load-time quantization computes).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

#include "base/quant.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/deepseek_vl2.h"
#include "runtime/kv_cache.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

std::vector<uint8_t> QuantBytes(DType t, int64_t n, int64_t k) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * k));
  for (float& v : x) v = nd(rng);
  std::vector<uint8_t> q(StorageBytes(t, {n, k}));
  QuantizeMatrix(t, x.data(), n, k, q.data());
  return q;
}

TEST(QuantIo, WriteAndReadBack) {
  const std::string path = testing::MakeTempDir() + "/q.safetensors";
  const std::vector<uint8_t> q4 = QuantBytes(DType::kQ4_0, 3, 64), q8 = QuantBytes(DType::kQ8_0, 5, 96);
  std::vector<TensorToWrite> ts = {
      {"a.weight", DType::kQ4_0, {3, 64}, [&](uint8_t* o) { std::memcpy(o, q4.data(), q4.size()); }},
      {"b.weight", DType::kQ8_0, {5, 96}, [&](uint8_t* o) { std::memcpy(o, q8.data(), q8.size()); }},
      {"c", DType::kF32, {2}, [](uint8_t* o) { std::memset(o, 0, 8); }}};
  ASSERT_TRUE(WriteSafetensors(path, ts).ok());
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const TensorView* a = (*f)->Find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kQ4_0);
  EXPECT_EQ(a->shape, Shape({3, 64}));
  EXPECT_EQ(std::memcmp(a->data, q4.data(), q4.size()), 0);
  const TensorView* b = (*f)->Find("b.weight");
  EXPECT_EQ(b->dtype, DType::kQ8_0);
  EXPECT_EQ(b->nbytes(), q8.size());
  EXPECT_EQ((*f)->Find("c")->dtype, DType::kF32);
  EXPECT_EQ((*f)->metadata().at("dsvl2.quant.a.weight"), "q4_0x16,[3,64]");
}

// A U8 tensor of `bytes` bytes with metadata entry `value` for it.
std::string Craft(size_t bytes, const std::string& value, const std::string& meta_name = "w") {
  const std::string path = testing::MakeTempDir() + "/bad.safetensors";
  std::vector<TensorToWrite> ts = {{"w", DType::kU8, {static_cast<int64_t>(bytes)}, [bytes](uint8_t* o) { std::memset(o, 0, bytes); }}};
  EXPECT_TRUE(WriteSafetensors(path, ts, {{"format", "pt"}, {"dsvl2.quant." + meta_name, value}}).ok());
  auto f = SafetensorsFile::Open(path);
  return f.ok() ? std::string() : f.status().message();
}

TEST(QuantIo, InconsistentFilesGiveOneLineNamingTheTensor) {
  // One 16-row panel of 2 blocks: 16 x 2 x 18 = 576 bytes.
  EXPECT_EQ(Craft(576, "q4_0x16,[1,64]"), "");
  std::string e = Craft(575, "q4_0x16,[1,64]");
  EXPECT_NE(e.find("tensor w: holds 575 bytes but q4_0x16 [1,64] needs 576"), std::string::npos) << e;
  e = Craft(576, "q4_k,[1,64]");
  EXPECT_NE(e.find("tensor w: unknown quantization format 'q4_k'"), std::string::npos) << e;
  e = Craft(36, "q4_0,[1,64]");
  EXPECT_NE(e.find("tensor w: 'q4_0' in the metadata is the row-major layout"), std::string::npos) << e;
  e = Craft(576, "q4_0x16,[1,48]");
  EXPECT_NE(e.find("tensor w: q4_0 needs a last dimension that is a multiple of 32"), std::string::npos) << e;
  e = Craft(576, "q4_0x16,oops");
  EXPECT_NE(e.find("tensor w: quantized shape 'oops'"), std::string::npos) << e;
  e = Craft(576, "q4_0x16,[1,64]", "missing");
  EXPECT_NE(e.find("tensor missing: named in the quantization metadata but not in the file"), std::string::npos) << e;
  for (const std::string& m : {e}) EXPECT_EQ(m.find('\n'), std::string::npos);
}

std::vector<float> LastLogits(const std::string& dir, const std::string& weights, bool copy = false) {
  auto m = DeepseekVL2::Load(dir, weights, copy);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return {};
  const DeepseekV2& lm = (*m)->language();
  auto pool = KvPool::WithBudget(lm.num_layers(), lm.kv_row_width(), 16, 16ll << 20);
  PagedSequenceKv kv(pool.get());
  const std::vector<int32_t> ids = {0, 9, 74, 48, 120, 121, 26, 26, 10};
  Tensor embeds({static_cast<int64_t>(ids.size()), lm.config().hidden_size}), logits;
  EXPECT_TRUE(lm.Embed(ids.data(), embeds.dim(0), embeds.data()).ok());
  EXPECT_TRUE(lm.Forward(embeds, {SeqSlice{&kv, 0, embeds.dim(0)}}, {embeds.dim(0) - 1}, &logits).ok());
  return logits.vec();
}

// Weights copied out of the mapping (into the huge-page arena) compute exactly what the mapped
// ones do, stored as they are or converted at load.
TEST(QuantIo, CopiedWeightsGiveTheSameLogits) {
  for (const char* weights : {"", "q4"}) {
    const std::string dir = testing::DataDir() + "/fixtures/base-mla-sigmoid";
    const std::vector<float> mapped = LastLogits(dir, weights, false), copied = LastLogits(dir, weights, true);
    ASSERT_FALSE(mapped.empty());
    EXPECT_EQ(mapped, copied) << "weights '" << weights << "'";
  }
}

TEST(QuantIo, QuantizeCommandOutputLoadsLikeLoadTimeQuantization) {
  for (const char* fixture : {"tiny-mha", "base-mla-sigmoid"}) {
    const std::string src = testing::DataDir() + "/fixtures/" + fixture;
    for (const char* type : {"q8", "q4"}) {
      const std::string out = testing::MakeTempDir() + "/" + type;
      const std::string cmd = std::string(DSVL2_BINARY) + " quantize --model '" + src + "' --out '" + out +
                              "' --type " + type + " >/dev/null 2>&1";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
      auto store = TensorStore::OpenDir(out);
      ASSERT_TRUE(store.ok()) << store.status().message();
      DType want;
      ASSERT_TRUE(ParseQuantFormat(type, &want));
      auto dtype_of = [&](const std::string& name) {
        const TensorView* v = (*store)->Find(name);
        EXPECT_NE(v, nullptr) << name;
        return v ? v->dtype : DType::kBool;
      };
      EXPECT_EQ(dtype_of("language.model.layers.0.self_attn.o_proj.weight"), want);
      EXPECT_EQ(dtype_of("language.lm_head.weight"), want);
      EXPECT_EQ(dtype_of("language.model.embed_tokens.weight"), DType::kBF16);
      EXPECT_EQ(dtype_of("language.model.layers.2.mlp.gate.weight"), DType::kBF16);  // router
      EXPECT_EQ(dtype_of("vision.blocks.0.mlp.fc1.weight"), DType::kBF16);
      EXPECT_TRUE(std::filesystem::exists(out + "/tokenizer.json"));
      const std::vector<float> from_file = LastLogits(out, "");
      EXPECT_EQ(from_file, LastLogits(src, type)) << fixture << " " << type;
      // Weights read through the file mapping (the default) and copied into memory agree.
      EXPECT_EQ(from_file, LastLogits(out, "", /*copy=*/true)) << fixture << " " << type;
    }
  }
}

TEST(QuantIo, QuantizeCommandRejectsBadType) {
  const std::string src = testing::DataDir() + "/fixtures/tiny-mha";
  const std::string cmd = std::string(DSVL2_BINARY) + " quantize --model '" + src + "' --out '" +
                          testing::MakeTempDir() + "/x' --type q3 >/dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace dsvl2
