// Loading a model directory: every tensor checked against the config before any compute; a
// missing, misshapen or truncated tensor gives one line naming it, and `dsvl2 inspect` exits
// non-zero without crashing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "io/weights.h"
#include "model/deepseek_vl2.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

namespace fs = std::filesystem;

// Copies the tiny-mha fixture's model files into a temp dir, rewriting model.safetensors with
// `edit` applied to the tensor list.
std::string CopyModel(const std::function<void(std::vector<TensorToWrite>&)>& edit) {
  const std::string src = testing::DataDir() + "/fixtures/tiny-mha";
  std::string dir = testing::MakeTempDir();
  fs::copy_file(src + "/config.json", dir + "/config.json");
  static std::vector<std::unique_ptr<SafetensorsFile>> keep;  // tensors point into the mapping
  auto f = SafetensorsFile::Open(src + "/model.safetensors");
  EXPECT_TRUE(f.ok());
  std::vector<TensorToWrite> ts;
  for (const auto& [name, v] : (*f)->tensors()) {
    TensorView view = v;
    ts.push_back({name, v.dtype, v.shape, [view](uint8_t* o) { std::memcpy(o, view.data, view.nbytes()); }});
  }
  keep.push_back(std::move(f).value());
  edit(ts);
  EXPECT_TRUE(WriteSafetensors(dir + "/model.safetensors", ts).ok());
  return dir;
}

int RunInspect(const std::string& dir, std::string* err) {
  std::string errfile = testing::MakeTempDir() + "/err.txt";
  std::string cmd = std::string(DSVL2_BINARY) + " inspect --model '" + dir + "' >/dev/null 2>'" + errfile + "'";
  int rc = std::system(cmd.c_str());
  *err = ReadFileToString(errfile).value();
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Load-time copies are carved out of shared 2 MiB-aligned chunks: 64-byte aligned, disjoint,
// writable to the last byte; one larger than a chunk gets its own.
TEST(ModelLoad, OwnedWeightsCarvesAlignedDisjointRanges) {
  OwnedWeights owned;
  std::vector<std::pair<uint8_t*, size_t>> got;
  for (size_t bytes : {size_t{1}, size_t{1000}, size_t{5} << 20, OwnedWeights::kChunkBytes - 100,
                       OwnedWeights::kChunkBytes + 12345, size_t{64}}) {
    uint8_t* p = owned.Allocate(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 0xab, bytes);
    got.push_back({p, bytes});
  }
  for (size_t i = 0; i < got.size(); ++i)
    for (size_t j = i + 1; j < got.size(); ++j)
      EXPECT_TRUE(got[i].first + got[i].second <= got[j].first || got[j].first + got[j].second <= got[i].first)
          << i << " overlaps " << j;
  EXPECT_EQ(got[1].first[999], 0xab);
  EXPECT_GE(owned.allocated_bytes(), size_t{2} * OwnedWeights::kChunkBytes);
}

TEST(ModelLoad, FixtureLoadsAndInspectSucceeds) {
  const std::string dir = testing::DataDir() + "/fixtures/tiny-mha";
  auto m = DeepseekVL2::Load(dir);
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::string err;
  EXPECT_EQ(RunInspect(dir, &err), 0) << err;
}

TEST(ModelLoad, MisshapenTensorNamed) {
  const std::string name = "language.model.layers.1.mlp.experts.7.up_proj.weight";
  std::string dir = CopyModel([&](std::vector<TensorToWrite>& ts) {
    for (auto& t : ts)
      if (t.name == name) {
        t.shape = {32, 63};
        t.fill = [](uint8_t* o) { std::memset(o, 0, 32 * 63 * 2); };
      }
  });
  auto m = DeepseekVL2::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(name + ": expected [32,64] bf16, found [32,63] bf16"), std::string::npos)
      << m.status().message();
  EXPECT_EQ(m.status().message().find('\n'), std::string::npos);
  std::string err;
  EXPECT_EQ(RunInspect(dir, &err), 1);
  EXPECT_NE(err.find(name), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST(ModelLoad, MissingTensorNamed) {
  const std::string name = "language.model.layers.2.self_attn.q_proj.weight";
  std::string dir = CopyModel([&](std::vector<TensorToWrite>& ts) {
    ts.erase(std::remove_if(ts.begin(), ts.end(), [&](const TensorToWrite& t) { return t.name == name; }), ts.end());
  });
  auto m = DeepseekVL2::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(name + ": missing"), std::string::npos) << m.status().message();
  std::string err;
  EXPECT_EQ(RunInspect(dir, &err), 1);
}

TEST(ModelLoad, WrongDtypeNamed) {
  const std::string name = "language.model.norm.weight";
  std::string dir = CopyModel([&](std::vector<TensorToWrite>& ts) {
    for (auto& t : ts)
      if (t.name == name) {
        t.dtype = DType::kI16;
      }
  });
  auto m = DeepseekVL2::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(name + ": expected [64] bf16|f16|f32, found [64] i16"), std::string::npos)
      << m.status().message();
}

TEST(ModelLoad, UnusedTensorsAreIgnoredAndF32Accepted) {
  std::string dir = CopyModel([&](std::vector<TensorToWrite>& ts) {
    ts.erase(std::remove_if(ts.begin(), ts.end(),
                            [](const TensorToWrite& t) { return t.name.rfind("vision.attn_pool.", 0) == 0; }),
             ts.end());
    for (auto& t : ts)
      if (t.name == "language.model.norm.weight") {
        t.dtype = DType::kF32;
        t.fill = [](uint8_t* o) {
          std::vector<float> ones(64, 1.0f);
          std::memcpy(o, ones.data(), 256);
        };
      }
  });
  auto m = DeepseekVL2::Load(dir);
  EXPECT_TRUE(m.ok()) << m.status().message();
}

TEST(ModelLoad, TruncatedCheckpoint) {
  std::string dir = CopyModel([](std::vector<TensorToWrite>&) {});
  const std::string path = dir + "/model.safetensors";
  fs::resize_file(path, fs::file_size(path) - 1000);
  auto m = DeepseekVL2::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("past the end"), std::string::npos) << m.status().message();
  std::string err;
  EXPECT_EQ(RunInspect(dir, &err), 1);
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST(ModelLoad, BadConfig) {
  std::string dir = CopyModel([](std::vector<TensorToWrite>&) {});
  std::ofstream(dir + "/config.json") << "{\"model_type\": \"deepseek_vl_v2\", ";
  auto m = DeepseekVL2::Load(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("config.json"), std::string::npos);
  std::string err;
  EXPECT_EQ(RunInspect(dir, &err), 1);
  EXPECT_EQ(RunInspect(dir + "/nonexistent", &err), 1);
}

}  // namespace
}  // namespace dsvl2
