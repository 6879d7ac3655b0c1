#include "vision/grounding.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace dsvl2 {
namespace {

bool AnyWarningContains(const GroundingParseResult& r, const std::string& needle) {
  for (const auto& w : r.warnings) {
    if (w.find(needle) != std::string::npos) return true;
  }
  return false;
}

void ExpectRaw(const GroundingBox& b, int x1, int y1, int x2, int y2) {
  EXPECT_EQ(b.raw_x1, x1);
  EXPECT_EQ(b.raw_y1, y1);
  EXPECT_EQ(b.raw_x2, x2);
  EXPECT_EQ(b.raw_y2, y2);
}

TEST(GroundingTest, ReadmeExample) {
  const std::string text =
      "<|ref|>The giraffe at the back.<|/ref|><|det|>[[580, 270, 999, 900]]<|/det|>"
      "<｜end▁of▁sentence｜>";
  GroundingParseResult r = ParseGrounding(text, 640, 480);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  EXPECT_EQ(r.num_refs, 1);
  EXPECT_EQ(r.num_dets, 1);
  const GroundingBox& b = r.boxes[0];
  EXPECT_EQ(b.label, "The giraffe at the back.");
  EXPECT_EQ(b.image_index, 0);
  EXPECT_EQ(b.ref_index, 0);
  ExpectRaw(b, 580, 270, 999, 900);
  // Hand computed: 580/999*640 = 371.57 -> 371; 270/999*480 = 129.73 -> 129;
  // 999/999*640 = 640; 900/999*480 = 432.43 -> 432.
  EXPECT_EQ(b.x1, 371);
  EXPECT_EQ(b.y1, 129);
  EXPECT_EQ(b.x2, 640);
  EXPECT_EQ(b.y2, 432);
}

TEST(GroundingTest, PixelConversion640x480) {
  EXPECT_EQ(GroundingCoordToPixel(0, 640), 0);
  EXPECT_EQ(GroundingCoordToPixel(1, 640), 0);      // 0.64
  EXPECT_EQ(GroundingCoordToPixel(2, 640), 1);      // 1.28
  EXPECT_EQ(GroundingCoordToPixel(500, 640), 320);  // 320.32
  EXPECT_EQ(GroundingCoordToPixel(998, 640), 639);  // 639.36
  EXPECT_EQ(GroundingCoordToPixel(999, 640), 640);
  EXPECT_EQ(GroundingCoordToPixel(333, 480), 160);  // exactly 160.0 in double
  // Python float semantics, not exact rational arithmetic: 63 / 999 * 111 = 6.999999999999999
  // in double (exactly 7 as a fraction), so int() gives 6, as the official code does.
  EXPECT_EQ(GroundingCoordToPixel(63, 111), 6);
  EXPECT_EQ(GroundingCoordToPixel(558, 111), 61);
  EXPECT_EQ(GroundingCoordToPixel(999, 480), 480);
  EXPECT_EQ(GroundingCoordToPixel(100, 480), 48);  // 48.048
  // Out-of-range inputs are clamped, never UB.
  EXPECT_EQ(GroundingCoordToPixel(-5, 640), 0);
  EXPECT_EQ(GroundingCoordToPixel(5000, 640), 640);
  EXPECT_EQ(GroundingCoordToPixel(999, -3), 0);
  EXPECT_EQ(GroundingCoordToPixel(999, 2147483647), 2147483647);

  GroundingBox b;
  b.raw_x1 = 100;
  b.raw_y1 = 100;
  b.raw_x2 = 500;
  b.raw_y2 = 998;
  SetGroundingPixels(640, 480, &b);
  EXPECT_EQ(b.x1, 64);   // 64.06
  EXPECT_EQ(b.y1, 48);   // 48.05
  EXPECT_EQ(b.x2, 320);  // 320.32
  EXPECT_EQ(b.y2, 479);  // 479.52
}

TEST(GroundingTest, WithoutImageSizePixelsStayZero) {
  GroundingParseResult r = ParseGrounding("<|ref|>a<|/ref|><|det|>[[1,2,3,4]]<|/det|>", {});
  ASSERT_EQ(r.boxes.size(), 1u);
  ExpectRaw(r.boxes[0], 1, 2, 3, 4);
  EXPECT_EQ(r.boxes[0].x2, 0);
}

TEST(GroundingTest, MultipleBoxesInOneDet) {
  GroundingParseResult r = ParseGrounding(
      "Find all the <|ref|>Watermelon slices<|/ref|><|det|>[[580, 270, 999, 900], [1,2,3,4],"
      "\n [0, 0, 0, 0]]<|/det|>",
      640, 480);
  ASSERT_EQ(r.boxes.size(), 3u);
  EXPECT_TRUE(r.warnings.empty());
  for (const auto& b : r.boxes) EXPECT_EQ(b.label, "Watermelon slices");
  ExpectRaw(r.boxes[0], 580, 270, 999, 900);
  ExpectRaw(r.boxes[1], 1, 2, 3, 4);
  ExpectRaw(r.boxes[2], 0, 0, 0, 0);  // zero-size is valid
}

TEST(GroundingTest, GroundedConversationSeveralPairs) {
  const std::string text =
      "<|grounding|>To throw out the trash, pick up <|ref|>the bag<|/ref|><|det|>[[10, 20, 30, "
      "40]]<|/det|> and carry it to <|ref|>the bin<|/ref|><|det|>[[500,500,600,700],[700,100,800,"
      "200]]<|/det|>. Then close <|ref|>the lid<|/ref|><|det|>[[1, 1, 998, 998]]<|/det|>.";
  GroundingParseOptions opt;
  opt.image_width = 640;
  opt.image_height = 480;
  opt.image_index = 2;
  GroundingParseResult r = ParseGrounding(text, opt);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  ASSERT_EQ(r.boxes.size(), 4u);
  EXPECT_EQ(r.num_refs, 3);
  EXPECT_EQ(r.num_dets, 3);
  EXPECT_EQ(r.boxes[0].label, "the bag");
  EXPECT_EQ(r.boxes[0].ref_index, 0);
  EXPECT_EQ(r.boxes[1].label, "the bin");
  EXPECT_EQ(r.boxes[2].label, "the bin");
  EXPECT_EQ(r.boxes[2].ref_index, 1);
  EXPECT_EQ(r.boxes[3].label, "the lid");
  ExpectRaw(r.boxes[2], 700, 100, 800, 200);
  for (const auto& b : r.boxes) EXPECT_EQ(b.image_index, 2);
}

TEST(GroundingTest, Utf8LabelKeptVerbatim) {
  GroundingParseResult r =
      ParseGrounding("找到<|ref|>淡定姐<|/ref|><|det|>[[1, 2, 3, 4]]<|/det|>", 100, 100);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "淡定姐");
}

TEST(GroundingTest, TextIsNotRequiredToChange) {
  // The parser takes a string_view; it only reads.
  const std::string text = "<|ref|>x<|/ref|><|det|>[[1,2,3,4]]<|/det|>";
  const std::string copy = text;
  (void)ParseGrounding(text, 10, 10);
  EXPECT_EQ(text, copy);
  EXPECT_TRUE(HasGroundingTags(text));
  EXPECT_FALSE(HasGroundingTags("plain <|User|> text"));
}

TEST(GroundingTest, EmptyText) {
  GroundingParseResult r = ParseGrounding("", 640, 480);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_TRUE(r.warnings.empty());
}

TEST(GroundingTest, MissingOuterBrackets) {
  GroundingParseResult r = ParseGrounding("<|ref|>a<|/ref|><|det|>[1, 2, 3, 4]<|/det|>", 64, 48);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_TRUE(AnyWarningContains(r, "no inner"));
  r = ParseGrounding("<|ref|>a<|/ref|><|det|>1, 2, 3, 4<|/det|>", 64, 48);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_TRUE(AnyWarningContains(r, "not a list"));
  r = ParseGrounding("<|ref|>a<|/ref|><|det|>[[1, 2, 3, 4]<|/det|>", 64, 48);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_FALSE(r.warnings.empty());
  r = ParseGrounding("<|ref|>a<|/ref|><|det|>[[1, 2, 3, 4<|/det|>", 64, 48);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_FALSE(r.warnings.empty());
}

TEST(GroundingTest, WrongNumberOfCoordinates) {
  GroundingParseResult r = ParseGrounding(
      "<|ref|>a<|/ref|><|det|>[[1, 2, 3], [5,6,7,8], [1,2,3,4,5], [], [1,2,3,]]<|/det|>", 64, 48);
  ASSERT_EQ(r.boxes.size(), 1u);  // the well-formed box survives
  ExpectRaw(r.boxes[0], 5, 6, 7, 8);
  EXPECT_TRUE(AnyWarningContains(r, "expected 4 numbers, got 3"));
  EXPECT_TRUE(AnyWarningContains(r, "expected 4 numbers, got more"));
  EXPECT_TRUE(AnyWarningContains(r, "empty coordinate"));
  EXPECT_EQ(r.warnings.size(), 4u);
}

TEST(GroundingTest, NonNumericNegativeAndOutOfRange) {
  GroundingParseResult r = ParseGrounding(
      "<|ref|>a<|/ref|><|det|>[[a, 2, 3, 4], [1, -2, 3, 4], [1, 2, 1000, 4], [1.5, 2, 3, 4],"
      " [99999999999999999999, 1, 2, 3], [0x10, 1, 2, 3], [+7, -0, 999, 999]]<|/det|>",
      64, 48);
  ASSERT_EQ(r.boxes.size(), 1u);
  ExpectRaw(r.boxes[0], 7, 0, 999, 999);
  EXPECT_TRUE(AnyWarningContains(r, "not an integer"));
  EXPECT_TRUE(AnyWarningContains(r, "negative"));
  EXPECT_TRUE(AnyWarningContains(r, "out of range"));
  EXPECT_EQ(r.warnings.size(), 6u);
}

TEST(GroundingTest, InvertedBoxesSkipped) {
  GroundingParseResult r =
      ParseGrounding("<|ref|>a<|/ref|><|det|>[[30, 2, 10, 4], [1, 40, 3, 4]]<|/det|>", 64, 48);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_EQ(r.warnings.size(), 2u);
  EXPECT_TRUE(AnyWarningContains(r, "x2 < x1"));
}

TEST(GroundingTest, UnterminatedDet) {
  GroundingParseResult r =
      ParseGrounding("<|ref|>a<|/ref|><|det|>[[1, 2, 3, 4]]<｜end▁of▁sentence｜>", 64, 48);
  EXPECT_TRUE(r.boxes.empty());
  EXPECT_TRUE(AnyWarningContains(r, "unterminated <|det|>"));
  EXPECT_TRUE(AnyWarningContains(r, "has no <|det|>"));

  // An unterminated det followed by a good pair: the good pair is kept.
  r = ParseGrounding(
      "<|ref|>a<|/ref|><|det|>[[1, 2, 3, 4]] <|ref|>b<|/ref|><|det|>[[5, 6, 7, 8]]<|/det|>", 64,
      48);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "b");
  EXPECT_TRUE(AnyWarningContains(r, "unterminated <|det|>"));
}

TEST(GroundingTest, UnterminatedRef) {
  GroundingParseResult r =
      ParseGrounding("<|ref|>a<|det|>[[1, 2, 3, 4]]<|/det|><|ref|>never closed", 64, 48);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "");  // the broken ref provides no label
  EXPECT_TRUE(AnyWarningContains(r, "unterminated <|ref|>"));
  EXPECT_TRUE(AnyWarningContains(r, "no preceding <|ref|>"));
}

TEST(GroundingTest, DetWithoutRef) {
  GroundingParseResult r = ParseGrounding("<|det|>[[1, 2, 3, 4]]<|/det|>", 640, 480);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "");
  EXPECT_EQ(r.boxes[0].ref_index, -1);
  EXPECT_EQ(r.num_refs, 0);
  EXPECT_EQ(r.num_dets, 1);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(AnyWarningContains(r, "no preceding <|ref|>"));
}

TEST(GroundingTest, RefWithoutDet) {
  GroundingParseResult r = ParseGrounding(
      "<|ref|>lonely<|/ref|> then <|ref|>pair<|/ref|><|det|>[[1,2,3,4]]<|/det|> "
      "<|ref|>tail<|/ref|>",
      640, 480);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "pair");
  EXPECT_EQ(r.boxes[0].ref_index, 1);
  EXPECT_EQ(r.num_refs, 3);
  EXPECT_EQ(r.warnings.size(), 2u);
  EXPECT_TRUE(AnyWarningContains(r, "'lonely'"));
  EXPECT_TRUE(AnyWarningContains(r, "'tail'"));
}

TEST(GroundingTest, SecondDetReusesLabel) {
  GroundingParseResult r = ParseGrounding(
      "<|ref|>cat<|/ref|><|det|>[[1,2,3,4]]<|/det|><|det|>[[5,6,7,8]]<|/det|>", 640, 480);
  ASSERT_EQ(r.boxes.size(), 2u);
  EXPECT_EQ(r.boxes[1].label, "cat");
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(GroundingTest, StrayClosingTagsAndNestedGarbage) {
  GroundingParseResult r = ParseGrounding(
      "<|/det|><|/ref|><|ref|>a<|/ref|><|det|>[[[1,2,3,4]]] junk [[9,9,9,9]] <|/det|>"
      "<|ref|>b<|/ref|><|det|>[[1,[2],3,4], x [10,20,30,40]]<|/det|>",
      64, 48);
  ASSERT_EQ(r.boxes.size(), 1u);
  ExpectRaw(r.boxes[0], 10, 20, 30, 40);
  EXPECT_EQ(r.boxes[0].label, "b");
  EXPECT_TRUE(AnyWarningContains(r, "stray <|/det|>"));
  EXPECT_TRUE(AnyWarningContains(r, "stray <|/ref|>"));
}

TEST(GroundingTest, UnrelatedSpecialTokensIgnored) {
  GroundingParseResult r =
      ParseGrounding("<|grounding|><|ref|>a<||/ref|><|/ref|><|det|>[[1,2,3,4]]<|/det|><|", 64, 48);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "a<||/ref|>");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(GroundingTest, LimitsAreEnforced) {
  std::string det = "<|det|>[";
  for (int i = 0; i < 100; ++i) det += "[1,2,3,4],";
  det += "[1,2,3,4]]<|/det|>";
  GroundingParseOptions opt;
  opt.max_boxes = 10;
  opt.max_warnings = 2;  // label truncated, too many boxes, second det -> 1 suppressed
  opt.max_label_bytes = 8;
  GroundingParseResult r =
      ParseGrounding("<|ref|>" + std::string(100, 'L') + "<|/ref|>" + det + det, opt);
  EXPECT_EQ(r.boxes.size(), 10u);
  EXPECT_EQ(r.boxes[0].label, "LLLLLLLL");
  EXPECT_EQ(r.warnings.size(), 3u);  // 2 + the "... and 1 more" line
  EXPECT_TRUE(AnyWarningContains(r, "more warnings"));

  // Truncation never splits a UTF-8 sequence.
  opt = {};
  opt.max_label_bytes = 4;
  r = ParseGrounding("<|ref|>淡定姐<|/ref|><|det|>[[1,2,3,4]]<|/det|>", opt);
  ASSERT_EQ(r.boxes.size(), 1u);
  EXPECT_EQ(r.boxes[0].label, "淡");
}

TEST(GroundingTest, OneMegabyteOfRandomBytes) {
  std::mt19937 rng(1234);
  std::string text(1 << 20, '\0');
  for (char& c : text) c = static_cast<char>(rng() & 0xFF);
  GroundingParseResult r = ParseGrounding(text, 640, 480);
  EXPECT_LE(r.warnings.size(), 65u);

  // Random bytes salted with tag fragments, brackets and digits.
  const char* pieces[] = {"<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>", "[", "]", ",",  "[[",
                          "]]",      "12",       "999",     "-1",       " ", "x", "<|", "|>"};
  for (int round = 0; round < 4; ++round) {
    std::string salted;
    salted.reserve(1 << 20);
    while (salted.size() < (1u << 20)) {
      if (rng() % 3 == 0) {
        salted += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
      } else {
        salted.push_back(static_cast<char>(rng() & 0xFF));
      }
    }
    r = ParseGrounding(salted, 640, 480);
    for (const auto& b : r.boxes) {
      EXPECT_GE(b.raw_x1, 0);
      EXPECT_LE(b.raw_x2, 999);
      EXPECT_LE(b.raw_x1, b.raw_x2);
      EXPECT_LE(b.raw_y1, b.raw_y2);
      EXPECT_LE(b.x2, 640);
      EXPECT_LE(b.y2, 480);
    }
    EXPECT_LE(r.warnings.size(), 65u);
  }
}

TEST(GroundingTest, HugeWellFormedInput) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "<|ref|>obj<|/ref|><|det|>[[1,2,3,4]]<|/det|>";
  GroundingParseResult r = ParseGrounding(text, 640, 480);
  EXPECT_EQ(r.boxes.size(), 4096u);
  EXPECT_EQ(r.num_refs, 20000);
  EXPECT_TRUE(AnyWarningContains(r, "more than 4096 boxes"));
}

}  // namespace
}  // namespace dsvl2
