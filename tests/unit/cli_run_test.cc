// `dsvl2 run` as a user meets it: the demo mode, streaming text, JSON output, boxes, and every
// bad input as one clear line with a non-zero exit.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/image.h"
#include "io/mapped_file.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

struct Result {
  int rc = -1;
  std::string out, err;
};

Result RunCli(const std::string& args) {
  const std::string tmp = testing::MakeTempDir();
  const std::string cmd = std::string(DSVL2_BINARY) + " run " + args + " >" + tmp + "/out 2>" + tmp + "/err";
  Result r;
  const int rc = std::system(cmd.c_str());
  r.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadFileToString(tmp + "/out").value();
  r.err = ReadFileToString(tmp + "/err").value();
  return r;
}

std::string Fixture() { return testing::DataDir() + "/fixtures/tiny-mha"; }
std::string Img(const char* name) { return Fixture() + "/images/" + name; }

TEST(CliRun, DemoModeWithoutArguments) {
  Result r = RunCli("--max-new-tokens 4");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("RANDOM weights"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--model"), std::string::npos);
  Result j = RunCli("--max-new-tokens 4 --format json");
  ASSERT_EQ(j.rc, 0) << j.err;
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_EQ(parsed["completion_tokens"].get<int>(), 4);
  EXPECT_EQ(parsed["finish_reason"], "length");
  EXPECT_TRUE(parsed.contains("note"));
  EXPECT_GT(parsed["prompt_tokens"].get<int>(), 1000);  // a 640x480 image is 2x2 tiles
}

TEST(CliRun, PromptWithImagesPrependsTags) {
  // Two images, no <image> tag: "<image>\n<image>\n" goes in front.
  Result r = RunCli("--model " + Fixture() + " --image " + Img("two_images_0.png") + " --image " +
                 Img("two_images_1.png") + " --prompt 'What differs?' --format json --max-new-tokens 2");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  // 2 images: [2,2] -> 1023 tokens, [3,1] -> 813 tokens (tiling on, <= 2 images).
  int image_tokens = 0;
  for (int id : j["prompt_token_ids"]) image_tokens += id == 3;
  EXPECT_EQ(image_tokens, 1023 + 813);
}

TEST(CliRun, StreamsTextAndTimings) {
  Result r = RunCli("--model " + Fixture() + " --prompt 'Hello' --max-new-tokens 3 --temperature 0.7 --seed 5");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_NE(r.err.find("decode"), std::string::npos);
  // Same seed, same sampled tokens.
  Result a = RunCli("--model " + Fixture() + " --prompt 'Hello' --max-new-tokens 6 --temperature 0.9 --top-p 0.9 --seed 11 --format json");
  Result b = RunCli("--model " + Fixture() + " --prompt 'Hello' --max-new-tokens 6 --temperature 0.9 --top-p 0.9 --seed 11 --format json");
  ASSERT_EQ(a.rc, 0) << a.err;
  EXPECT_EQ(nlohmann::json::parse(a.out)["token_ids"], nlohmann::json::parse(b.out)["token_ids"]);
}

TEST(CliRun, BadInputsAreOneLineErrors) {
  const std::string dir = testing::MakeTempDir();
  std::ofstream(dir + "/garbage.png") << "not an image at all";
  std::ofstream(dir + "/bad.json") << "[{\"role\": \"user\", \"content\": 5}]";
  std::ofstream(dir + "/notjson.json") << "{oops";
  std::ofstream(dir + "/badrole.json") << "[{\"role\": \"robot\", \"content\": \"hi\"}]";
  std::ofstream(dir + "/missingimg.json") << "[{\"role\": \"user\", \"content\": \"<image>\", \"images\": [\"nope.png\"]}]";
  struct C { std::string args; const char* expect; int rc; };
  const std::string m = "--model " + Fixture() + " ";
  for (const C& c : std::vector<C>{
           {m + "--prompt hi --image /no/such.png", "/no/such.png", 1},
           {m + "--prompt hi --image " + dir + "/garbage.png", "garbage.png", 1},
           {m + "--prompt '<image> and <image>' --image " + Img("tiny_image_0.png"), "image", 1},
           {m + "--prompt 'x' --max-new-tokens 5000", "context", 1},
           {m + "--messages " + dir + "/bad.json", "content", 1},
           {m + "--messages " + dir + "/notjson.json", "JSON", 1},
           {m + "--messages " + dir + "/badrole.json", "robot", 1},
           {m + "--messages " + dir + "/missingimg.json", "nope.png", 1},
           {m + "--messages /no/such.json", "/no/such.json", 1},
           {"--model /no/such/model --prompt hi", "/no/such/model", 1},
           {m + "--prompt hi --temperature abc", "--temperature", 2},
           {m + "--prompt hi --bogus 1", "--bogus", 2},
           {m + "--prompt hi --format xml", "--format", 2},
           {m + "--prompt hi --weight-memory disk", "--weight-memory", 2},
           {m + "--prompt hi --matmul-precision low", "--matmul-precision", 2},
           {m + "--prompt hi --messages x.json", "not both", 2},
       }) {
    Result r = RunCli(c.args);
    EXPECT_EQ(r.rc, c.rc) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
}

TEST(CliRun, BoxesOutWritesAPng) {
  const std::string out = testing::MakeTempDir() + "/boxes.png";
  Result r = RunCli("--model " + Fixture() + " --image " + Img("grounding_portrait_0.png") +
                 " --prompt '<|ref|>The red box<|/ref|>.' --max-new-tokens 2 --boxes-out " + out);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto img = LoadImageFile(out);
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->width, 300);
  EXPECT_EQ(img->height, 900);
}

}  // namespace
}  // namespace dsvl2
