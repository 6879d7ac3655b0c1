// Server building blocks without HTTP: strict base64, stop sequences over streamed pieces, and
// chat-request validation (each bad field -> a 400 naming it; content parts -> "<image>" tags).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/base64.h"
#include "server/chat_request.h"
#include "server/stop_matcher.h"

namespace dsvl2::server {
namespace {

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(Str(*Base64Decode("aGVsbG8=")), "hello");
  EXPECT_EQ(Str(*Base64Decode("aGVsbG8")), "hello");
  EXPECT_EQ(Str(*Base64Decode("aGVs\nbG8h")), "hello!");
  EXPECT_EQ(Str(*Base64Decode("+/+/")), "\xfb\xff\xbf");
}

TEST(Base64, RejectsBadInput) {
  for (const char* bad : {"", "a", "aGVsbG8*", "aGV=sbG8", "aGVsbG8===", "===="}) {
    auto r = Base64Decode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("base64"), std::string::npos);
    }
  }
}

std::string Feed(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.Push(p);
  return out + m.Flush();
}

TEST(StopMatcher, CutsBeforeAMatchSpanningPieces) {
  StopMatcher m({"END"});
  EXPECT_EQ(Feed(m, {"abc E", "N", "Dxyz", "more"}), "abc ");
  EXPECT_TRUE(m.matched());
}

TEST(StopMatcher, ReleasesHeldTextThatDidNotMatch) {
  StopMatcher m({"END", "##"});
  std::string out = m.Push("a E");
  EXPECT_EQ(out, "a ");  // "E" could start "END"
  out += m.Push("Nx#");
  EXPECT_EQ(out, "a ENx");
  EXPECT_EQ(out + m.Flush(), "a ENx#");
  EXPECT_FALSE(m.matched());
}

TEST(StopMatcher, NoStopsPassesThrough) {
  StopMatcher m({});
  EXPECT_EQ(Feed(m, {"a", "b"}), "ab");
}

struct Bad {
  const char* body;
  const char* param;
  const char* message;
};

TEST(ChatRequest, RejectsBadFieldsNamingThem) {
  const Bad cases[] = {
      {"{", "", "not valid JSON"},
      {"[]", "", "JSON object"},
      {R"({"messages": []})", "messages", "must not be empty"},
      {R"({"messages": [{"role": "robot", "content": "x"}]})", "messages[0].role", "system, user or assistant"},
      {R"({"messages": [{"role": "user", "content": 3}]})", "messages[0].content", "string or an array"},
      {R"({"messages": [{"role": "user", "content": [{"type": "video"}]}]})", "messages[0].content[0].type", "\"text\" or \"image_url\""},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature", "a number"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens", "between 1"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 2})", "n", "between 1 and 1"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop", "strings"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}]})",
       "messages[0].content[0].image_url", "invalid base64"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "/etc/passwd"}}]}]})",
       "messages[0].content[0].image_url", "local image paths are disabled"},
  };
  for (const Bad& c : cases) {
    ChatRequest r;
    ApiError e;
    EXPECT_FALSE(ParseChatRequest(c.body, ChatLimits(), &r, &e)) << c.body;
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_NE(e.message.find(c.message), std::string::npos) << c.body << " -> " << e.message;
  }
}

TEST(ChatRequest, ReadsSettingsAndPartsInOrder) {
  // 1x1 PNG.
  const std::string png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
  const std::string body = R"({"model": "m", "stream": true, "stream_options": {"include_usage": true},
    "temperature": 0.5, "top_p": 0.9, "top_k": 7, "seed": 42, "max_completion_tokens": 9, "stop": "##",
    "messages": [{"role": "system", "content": "sys"},
                 {"role": "user", "content": [{"type": "text", "text": "a "},
                                              {"type": "image_url", "image_url": {"url": "data:image/png;base64,)" +
                           png + R"("}}, {"type": "text", "text": " b"}]}]})";
  ChatRequest r;
  ApiError e;
  ASSERT_TRUE(ParseChatRequest(body, ChatLimits(), &r, &e)) << e.message;
  ASSERT_EQ(r.turns.size(), 2u);
  EXPECT_EQ(r.turns[1].content, "a <image> b");
  ASSERT_EQ(r.turns[1].images.size(), 1u);
  EXPECT_EQ(r.turns[1].images[0].width, 1);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_FLOAT_EQ(r.gen.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.gen.sampling.top_p, 0.9f);
  EXPECT_EQ(r.gen.sampling.top_k, 7);
  EXPECT_EQ(r.gen.sampling.seed, 42u);
  EXPECT_EQ(r.max_tokens.value_or(-1), 9);
  EXPECT_EQ(r.stop, std::vector<std::string>{"##"});
}

}  // namespace
}  // namespace dsvl2::server
