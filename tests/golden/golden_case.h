// Reads one fixture directory in the format of tests/data/fixtures (official outputs): the model
// directory itself plus expected.json / expected.safetensors.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/tensor.h"
#include "io/safetensors.h"

namespace dsvl2::testing {

struct GoldenCase {
  std::string name;
  nlohmann::json json;  // messages, images, input_ids, images_seq_mask, images_spatial_crop, ...
  std::vector<int32_t> input_ids;
  std::vector<uint8_t> images_seq_mask;
  std::vector<std::pair<int, int>> spatial_crop;  // [tiles_w, tiles_h] per image
  std::vector<int32_t> greedy_tokens;
  std::vector<double> greedy_margins;
};

class GoldenFixture {
 public:
  static std::unique_ptr<GoldenFixture> Open(const std::string& dir, std::string* error);
  const std::string& dir() const { return dir_; }
  const std::vector<GoldenCase>& cases() const { return cases_; }
  // `<case>.<name>` from expected.safetensors, or nullptr.
  const TensorView* Tensor(const std::string& case_name, const std::string& name) const;

 private:
  std::string dir_;
  std::vector<GoldenCase> cases_;
  std::unique_ptr<SafetensorsFile> expected_;
};

// The fixture directories to check: those given on the command line (SetGoldenDirs, from
// `--fixture DIR`), else every directory under tests/data/fixtures plus any listed in
// $DSVL2_GOLDEN_DIRS (':'-separated).
std::vector<std::string> GoldenDirs();
void SetGoldenDirs(std::vector<std::string> dirs);

// Test-name suffix for a fixture directory parameter: its base name, alphanumeric, plus index.
std::string GoldenTestName(const ::testing::TestParamInfo<std::string>& info);

}  // namespace dsvl2::testing
