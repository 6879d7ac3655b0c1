// Conversation -> input_ids / images_seq_mask, checked exactly against the official processor's
// output stored in the fixtures' expected.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "test_util.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

namespace dsvl2 {
namespace {

using nlohmann::json;

class ChatFixtureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ChatFixtureTest, MatchesOfficialProcessor) {
  const std::string dir = testing::DataDir() + "/fixtures/" + GetParam();
  auto tok = Tokenizer::FromModelDir(dir);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  auto text = ReadFileToString(dir + "/expected.json");
  ASSERT_TRUE(text.ok()) << text.status().message();
  const json expected = json::parse(*text);
  int checked = 0;
  for (const auto& [name, c] : expected["cases"].items()) {
    SCOPED_TRACE(name);
    std::vector<ChatMessage> messages;
    for (const json& m : c["messages"]) {
      messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    std::vector<int> counts;
    for (const json& crop : c["images_spatial_crop"]) {
      counts.push_back(ImageTokenCount(crop[0].get<int>(), crop[1].get<int>()));
    }
    auto out = BuildChatTokens(**tok, messages, counts);
    ASSERT_TRUE(out.ok()) << out.status().message();
    const auto want_ids = c["input_ids"].get<std::vector<int32_t>>();
    std::vector<uint8_t> want_mask;
    for (const json& b : c["images_seq_mask"]) {  // stored as 0/1 (or booleans)
      want_mask.push_back(b.is_boolean() ? b.get<bool>() : b.get<int>() != 0);
    }
    EXPECT_EQ(out->input_ids, want_ids);
    EXPECT_EQ(out->images_seq_mask, want_mask);

    // Image spans cover exactly the masked positions, in image order.
    ASSERT_EQ(out->image_spans.size(), counts.size());
    size_t masked = 0;
    for (size_t i = 0; i < out->image_spans.size(); ++i) {
      const ImageSpan& s = out->image_spans[i];
      EXPECT_EQ(s.image, static_cast<int>(i));
      EXPECT_EQ(s.length, static_cast<size_t>(counts[i]));
      for (size_t k = s.start; k < s.start + s.length; ++k) EXPECT_EQ(out->images_seq_mask[k], 1);
      masked += s.length;
    }
    size_t total = 0;
    for (uint8_t m : out->images_seq_mask) total += m;
    EXPECT_EQ(total, masked);

    // Leaving out the trailing empty assistant turn gives the same ids.
    if (messages.size() > 1 && messages.back().content.empty()) {
      messages.pop_back();
      auto again = BuildChatTokens(**tok, messages, counts);
      ASSERT_TRUE(again.ok()) << again.status().message();
      EXPECT_EQ(again->input_ids, want_ids);
    }
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(expected["cases"].size()));
  EXPECT_GE(checked, 11);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ChatFixtureTest,
                         ::testing::Values("tiny-mha", "small-mla", "base-mla-sigmoid"));

TEST(ImageTokenCount, OfficialFormula) {
  EXPECT_EQ(ImageTokensPerSide(384, 14, 2), 14);
  // Table of docs §5.1.
  EXPECT_EQ(ImageTokenCount(1, 1), 421);
  EXPECT_EQ(ImageTokenCount(1, 2), 631);
  EXPECT_EQ(ImageTokenCount(2, 1), 617);
  EXPECT_EQ(ImageTokenCount(2, 3), 1429);
  EXPECT_EQ(ImageTokenCount(3, 3), 2017);
  EXPECT_EQ(ImageTokenCount(1, 9), 2101);
  EXPECT_EQ(ImageTokenCount(9, 1), 1989);
}

class ChatErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tok = Tokenizer::FromModelDir(testing::DataDir() + "/fixtures/tiny-mha");
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    tok_ = std::move(tok).value();
  }
  std::string Error(const std::vector<ChatMessage>& messages, const std::vector<int>& counts) {
    auto out = BuildChatTokens(*tok_, messages, counts);
    return out.ok() ? "" : out.status().message();
  }
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(ChatErrorTest, RejectsInvalidConversations) {
  EXPECT_NE(Error({{"user", "<image><image>"}}, {421}).find("more <image> tags than images"), std::string::npos);
  EXPECT_NE(Error({{"user", "<image>"}}, {421, 421}).find("2 images given"), std::string::npos);
  EXPECT_NE(Error({{"user", "hi"}, {"system", "x"}}, {}).find("system message is only allowed"), std::string::npos);
  EXPECT_NE(Error({{"robot", "hi"}}, {}).find("unknown chat role \"robot\""), std::string::npos);
  EXPECT_NE(Error({{"user", "hi"}, {"assistant", "hello"}}, {}).find("last message"), std::string::npos);
  EXPECT_NE(Error({{"user", "hi"}, {"assistant", "<image>"}, {"user", "x"}}, {421}).find("contains <image>"), std::string::npos);
  EXPECT_NE(Error({{"user", "<image>", 2}}, {421}).find("has 2 images but 1 <image> tags"), std::string::npos);
  EXPECT_NE(Error({}, {}).find("empty conversation"), std::string::npos);
  EXPECT_EQ(Error({{"user", "<image>", 1}}, {421}), "");
}

TEST_F(ChatErrorTest, StripsWithPythonSemanticsAndUsesTemplateRoles) {
  auto a = BuildChatTokens(*tok_, std::vector<ChatMessage>{{"user", " \u3000hi\n\t"}}, std::vector<int>{});
  auto b = BuildChatTokens(*tok_, std::vector<ChatMessage>{{"<|User|>", "hi"}, {"<|Assistant|>", ""}}, std::vector<int>{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->input_ids, b->input_ids);
  // [BOS] "<|User|>" ": hi\n\n" "<|Assistant|>" ":"  (fixture tokenizer: byte b -> 16 + b)
  const std::vector<int32_t> want = {0, 9, 16 + ':', 16 + ' ', 16 + 'h', 16 + 'i', 16 + '\n', 16 + '\n', 10, 16 + ':'};
  EXPECT_EQ(a->input_ids, want);
}

}  // namespace
}  // namespace dsvl2
