// safetensors reader: valid files, and every kind of corruption gives an error naming the file
// (and tensor), never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/half.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

std::string WriteBytes(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string RawFile(const std::string& header, const std::string& data) {
  uint64_t n = header.size();
  std::string s(reinterpret_cast<const char*>(&n), 8);
  return s + header + data;
}

TEST(Safetensors, RoundTrip) {
  std::string dir = testing::MakeTempDir();
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<TensorToWrite> ts = {
      {"a", DType::kF32, {2, 3}, [&](uint8_t* o) { std::memcpy(o, a.data(), 24); }},
      {"b", DType::kBF16, {3}, [&](uint8_t* o) {
         uint16_t v[3] = {F32ToBf16(1.5f), F32ToBf16(-2.0f), F32ToBf16(0.25f)};
         std::memcpy(o, v, 6);
       }},
      {"c", DType::kF16, {2}, [&](uint8_t* o) {
         uint16_t v[2] = {F32ToF16(0.5f), F32ToF16(-3.0f)};
         std::memcpy(o, v, 4);
       }}};
  ASSERT_TRUE(WriteSafetensors(dir + "/m.safetensors", ts).ok());
  auto f = SafetensorsFile::Open(dir + "/m.safetensors");
  ASSERT_TRUE(f.ok()) << f.status().message();
  const TensorView* ta = (*f)->Find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (Shape{2, 3}));
  EXPECT_EQ(ta->At(5), 6.0f);
  EXPECT_EQ((*f)->Find("b")->At(1), -2.0f);
  EXPECT_EQ((*f)->Find("c")->At(1), -3.0f);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->Find("missing"), nullptr);
}

struct BadCase {
  const char* what;
  std::string bytes;
  const char* expect;  // substring of the error
};

TEST(Safetensors, CorruptFilesAreErrors) {
  std::string dir = testing::MakeTempDir();
  const std::string ok_header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string data(8, '\0');
  std::vector<BadCase> cases = {
      {"empty", "", "too short"},
      {"short", "abc", "too short"},
      {"header length past end", std::string("\xff\xff\xff\x00\x00\x00\x00\x00", 8) + "{}", "exceeds file size"},
      {"truncated data", RawFile(ok_header, "1234"), "past the end"},
      {"not json", RawFile("{nope", data), "not a valid JSON"},
      {"json array", RawFile("[1,2]", data), "not a valid JSON object"},
      {"unknown dtype", RawFile(R"({"w":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", data), "unknown dtype"},
      {"shape mismatch", RawFile(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "does not match shape"},
      {"negative shape", RawFile(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "non-negative"},
      {"begin > end", RawFile(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data), "begin > end"},
      {"missing offsets", RawFile(R"({"w":{"dtype":"F32","shape":[2]}})", data), "data_offsets"},
      {"huge shape", RawFile(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data), "too large"},
      {"overlap", RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data), "overlap"},
      {"entry not object", RawFile(R"({"w":5})", data), "not an object"},
  };
  for (const auto& c : cases) {
    std::string path = WriteBytes(dir, "bad.safetensors", c.bytes);
    auto f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok()) << c.what;
    EXPECT_NE(f.status().message().find(c.expect), std::string::npos) << c.what << ": " << f.status().message();
    EXPECT_NE(f.status().message().find(path), std::string::npos) << c.what;
  }
  auto missing = SafetensorsFile::Open(dir + "/does-not-exist.safetensors");
  EXPECT_FALSE(missing.ok());
  auto is_dir = SafetensorsFile::Open(dir);
  EXPECT_FALSE(is_dir.ok());
}

TEST(Safetensors, ShardedDirectory) {
  std::string dir = testing::MakeTempDir();
  std::vector<float> v = {1, 2};
  auto fill = [&](uint8_t* o) { std::memcpy(o, v.data(), 8); };
  ASSERT_TRUE(WriteSafetensors(dir + "/model-00001-of-000002.safetensors", {{"x", DType::kF32, {2}, fill}}).ok());
  ASSERT_TRUE(WriteSafetensors(dir + "/model-00002-of-000002.safetensors", {{"y", DType::kF32, {2}, fill}}).ok());
  WriteBytes(dir, "model.safetensors.index.json",
             R"({"metadata":{},"weight_map":{"x":"model-00001-of-000002.safetensors","y":"model-00002-of-000002.safetensors"}})");
  auto store = TensorStore::OpenDir(dir);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_NE((*store)->Find("x"), nullptr);
  EXPECT_NE((*store)->Find("y"), nullptr);
  EXPECT_EQ((*store)->size(), 2u);

  // A tensor listed in the index but absent from its shard.
  WriteBytes(dir, "model.safetensors.index.json",
             R"({"weight_map":{"x":"model-00001-of-000002.safetensors","z":"model-00002-of-000002.safetensors"}})");
  auto bad = TensorStore::OpenDir(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tensor z"), std::string::npos) << bad.status().message();

  // A missing shard file; a path-escaping shard name.
  WriteBytes(dir, "model.safetensors.index.json", R"({"weight_map":{"x":"model-00009-of-000009.safetensors"}})");
  EXPECT_FALSE(TensorStore::OpenDir(dir).ok());
  WriteBytes(dir, "model.safetensors.index.json", R"({"weight_map":{"x":"../etc/passwd"}})");
  EXPECT_FALSE(TensorStore::OpenDir(dir).ok());
  WriteBytes(dir, "model.safetensors.index.json", R"({"weight_map":[1]})");
  EXPECT_FALSE(TensorStore::OpenDir(dir).ok());

  std::string empty = testing::MakeTempDir();
  auto none = TensorStore::OpenDir(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace dsvl2
