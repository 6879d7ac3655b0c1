// End to end through the command line: every case of every fixture directory, given to
// `dsvl2 run --model <fixture> --messages <case> --temperature 0 --format json`, reproduces the
// official processor's input_ids and the official greedy tokens (while the stored top-2 margin is
// >= 0.01; a near-tie may flip under float rounding and later steps then diverge).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "golden/golden_case.h"
#include "io/mapped_file.h"
#include "test_util.h"

namespace dsvl2::testing {
namespace {

using nlohmann::json;

// The case's conversation in the --messages format: images attached to the messages in the order
// of their <image> tags.
json MessagesFor(const GoldenCase& c, const std::string& dir) {
  json out = json::array();
  size_t next = 0;
  const json& images = c.json["images"];
  for (const json& m : c.json["messages"]) {
    json msg = {{"role", m["role"]}, {"content", m["content"]}};
    const std::string content = m["content"].get<std::string>();
    json paths = json::array();
    for (size_t p = content.find("<image>"); p != std::string::npos; p = content.find("<image>", p + 7))
      paths.push_back(dir + "/" + images[next++].get<std::string>());
    if (!paths.empty()) msg["images"] = paths;
    out.push_back(msg);
  }
  return out;
}

StatusOr<json> RunCli(const std::string& args) {
  const std::string tmp = MakeTempDir();
  const std::string cmd = std::string(DSVL2_BINARY) + " run " + args + " >" + tmp + "/out.json 2>" + tmp + "/err.txt";
  const int rc = std::system(cmd.c_str());
  auto err = ReadFileToString(tmp + "/err.txt");
  if (rc != 0) return Status::Error("exit " + std::to_string(rc) + ": " + (err.ok() ? *err : ""));
  auto text = ReadFileToString(tmp + "/out.json");
  json j = json::parse(text.ok() ? *text : "", nullptr, false);
  if (j.is_discarded()) return Status::Error("output is not JSON: " + (text.ok() ? *text : ""));
  return j;
}

class RunGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RunGoldenTest, AllCasesThroughTheCli) {
  const std::string dir = GetParam();
  std::string err;
  auto fx = GoldenFixture::Open(dir, &err);
  ASSERT_TRUE(fx) << err;
  for (const GoldenCase& c : fx->cases()) {
    SCOPED_TRACE(dir + " case " + c.name);
    const std::string file = MakeTempDir() + "/messages.json";
    std::ofstream(file) << MessagesFor(c, dir).dump();
    auto j = RunCli("--model " + dir + " --messages " + file + " --temperature 0 --format json --max-new-tokens " +
                    std::to_string(c.greedy_tokens.size()));
    ASSERT_TRUE(j.ok()) << j.status().message();
    EXPECT_EQ((*j)["prompt_token_ids"].get<std::vector<int32_t>>(), c.input_ids);
    EXPECT_EQ((*j)["prompt_tokens"].get<size_t>(), c.input_ids.size());
    const auto tokens = (*j)["token_ids"].get<std::vector<int32_t>>();
    ASSERT_FALSE(tokens.empty());
    for (size_t i = 0; i < c.greedy_tokens.size() && i < tokens.size(); ++i) {
      EXPECT_EQ(tokens[i], c.greedy_tokens[i]) << "greedy step " << i;
      if (c.greedy_margins[i] < 0.01) break;
    }
    for (const char* key : {"text", "finish_reason", "boxes", "timings", "completion_tokens"})
      EXPECT_TRUE(j->contains(key)) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, RunGoldenTest, ::testing::ValuesIn(GoldenDirs()),
                         GoldenTestName);

}  // namespace
}  // namespace dsvl2::testing
