#include "golden/golden_case.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "io/mapped_file.h"
#include "test_util.h"

namespace dsvl2::testing {

std::unique_ptr<GoldenFixture> GoldenFixture::Open(const std::string& dir, std::string* error) {
  auto f = std::make_unique<GoldenFixture>();
  f->dir_ = dir;
  auto text = ReadFileToString(dir + "/expected.json");
  if (!text.ok()) {
    *error = text.status().message();
    return nullptr;
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.contains("cases")) {
    *error = dir + "/expected.json: not a fixture file";
    return nullptr;
  }
  for (auto it = j["cases"].begin(); it != j["cases"].end(); ++it) {
    GoldenCase c;
    c.name = it.key();
    c.json = *it;
    for (const auto& v : (*it)["input_ids"]) c.input_ids.push_back(v.get<int32_t>());
    for (const auto& v : (*it)["images_seq_mask"]) c.images_seq_mask.push_back(v.get<int>() ? 1 : 0);
    for (const auto& v : (*it)["images_spatial_crop"]) c.spatial_crop.push_back({v[0].get<int>(), v[1].get<int>()});
    for (const auto& v : (*it)["greedy_tokens"]) c.greedy_tokens.push_back(v.get<int32_t>());
    for (const auto& v : (*it)["greedy_top2_margins"]) c.greedy_margins.push_back(v.get<double>());
    f->cases_.push_back(std::move(c));
  }
  auto st = SafetensorsFile::Open(dir + "/expected.safetensors");
  if (!st.ok()) {
    *error = st.status().message();
    return nullptr;
  }
  f->expected_ = std::move(st).value();
  return f;
}

const TensorView* GoldenFixture::Tensor(const std::string& case_name, const std::string& name) const {
  return expected_->Find(case_name + "." + name);
}

namespace {
std::vector<std::string>& ExplicitDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
}  // namespace

void SetGoldenDirs(std::vector<std::string> dirs) { ExplicitDirs() = std::move(dirs); }

std::string GoldenTestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param.substr(info.param.find_last_of('/') + 1);
  for (char& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n + "_" + std::to_string(info.index);
}

std::vector<std::string> GoldenDirs() {
  if (!ExplicitDirs().empty()) return ExplicitDirs();
  std::vector<std::string> dirs;
  namespace fs = std::filesystem;
  const fs::path root = fs::path(DataDir()) / "fixtures";
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && fs::exists(e.path() / "expected.json")) dirs.push_back(e.path().string());
  std::sort(dirs.begin(), dirs.end());
  if (const char* extra = std::getenv("DSVL2_GOLDEN_DIRS")) {
    std::stringstream ss(extra);
    std::string d;
    while (std::getline(ss, d, ':'))
      if (!d.empty()) dirs.push_back(d);
  }
  return dirs;
}

}  // namespace dsvl2::testing
