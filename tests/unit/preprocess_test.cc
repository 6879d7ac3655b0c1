// Image preprocessing against the official processor's outputs (tests/data/fixtures):
// select_best_resolution for ~1,100 sizes, and the uint8 tiles (global view + local tiles) of every
// fixture case, which must be identical. Plus Pillow 9.4 goldens for the bicubic resize and
// ImageOps.pad (FNV-1a hashes of Pillow's output, computed once with Python).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fuzz/image_samples.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "test_util.h"
#include "vision/preprocess.h"
#include "vision/resample.h"

namespace dsvl2 {
namespace {

using Candidates = std::vector<std::pair<int, int>>;
constexpr int kTile = 384;

std::string FixtureDir() { return testing::DataDir() + "/fixtures"; }

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return nlohmann::json::parse(in);
}

Candidates CandidatesOf(const nlohmann::json& config) {
  Candidates c;
  for (const auto& wh : config.at("candidate_resolutions"))
    c.emplace_back(wh[0].get<int>(), wh[1].get<int>());
  return c;
}

Candidates TinyCandidates() {
  return CandidatesOf(ReadJson(FixtureDir() + "/tiny-mha/config.json"));
}

uint64_t Fnv1a(const std::vector<uint8_t>& b) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t v : b) {
    h ^= v;
    h *= 0x100000001b3ull;
  }
  return h;
}

Image PatternImage(int w, int h, uint32_t seed) {
  Image im;
  im.width = w;
  im.height = h;
  im.rgb = test_images::Pattern(w, h, 3, seed);
  return im;
}

TEST(SelectBestResolution, MatchesOfficialForEveryFixtureRow) {
  const Candidates cands = TinyCandidates();
  ASSERT_EQ(cands.size(), 23u);
  const nlohmann::json j = ReadJson(FixtureDir() + "/best_resolution.json");
  ASSERT_EQ(CandidatesOf(j), cands) << "fixture rows were computed with another candidate list";
  int rows = 0;
  for (const auto& r : j.at("rows")) {
    const int w = r[0], h = r[1];
    const auto best = SelectBestResolution(w, h, cands);
    EXPECT_EQ(best.first, r[2].get<int>()) << w << "x" << h;
    EXPECT_EQ(best.second, r[3].get<int>()) << w << "x" << h;
    ++rows;
  }
  EXPECT_GT(rows, 1000);
}

TEST(SelectBestResolution, SpecExamplesAndEdgeCases) {
  const Candidates c = TinyCandidates();
  EXPECT_EQ(SelectBestResolution(640, 480, c), std::make_pair(768, 768));
  EXPECT_EQ(SelectBestResolution(1024, 768, c), std::make_pair(1152, 768));
  EXPECT_EQ(SelectBestResolution(1920, 1080, c), std::make_pair(1536, 768));
  EXPECT_EQ(SelectBestResolution(1080, 1920, c), std::make_pair(768, 1536));
  EXPECT_EQ(SelectBestResolution(300, 200, c), std::make_pair(384, 384));
  EXPECT_EQ(SelectBestResolution(5000, 5000, c), std::make_pair(1152, 1152));
  EXPECT_EQ(SelectBestResolution(1000, 100, c), std::make_pair(1152, 384));
  EXPECT_EQ(SelectBestResolution(100, 1000, c), std::make_pair(384, 1152));
  EXPECT_EQ(SelectBestResolution(769, 768, c), std::make_pair(1152, 768));
  // Every candidate scores 0: the first one wins (0 == 0 and waste < inf), as in Python.
  EXPECT_EQ(SelectBestResolution(1, 100000, c), std::make_pair(384, 384));
  EXPECT_EQ(SelectBestResolution(0, 10, c), std::make_pair(0, 0));
  EXPECT_EQ(SelectBestResolution(10, 10, {}), std::make_pair(0, 0));
}

TEST(RoundHalfEven, PythonRound) {
  EXPECT_EQ(RoundHalfEven(0.5), 0);
  EXPECT_EQ(RoundHalfEven(1.5), 2);
  EXPECT_EQ(RoundHalfEven(2.5), 2);
  EXPECT_EQ(RoundHalfEven(2.5000001), 3);
  EXPECT_EQ(RoundHalfEven(-0.5), 0);
  EXPECT_EQ(RoundHalfEven(-1.5), -2);
  EXPECT_EQ(RoundHalfEven(283.7837837837838), 284);
}

struct PillowGolden {
  int w, h, out_w, out_h;
  bool pad;
  uint32_t seed;
  uint64_t fnv;
};

// Image.frombytes("RGB", (w, h), Pattern(w, h, 3, seed)) then .resize((W, H), BICUBIC) or
// ImageOps.pad(im, (W, H), color=(127, 127, 127)), with Pillow 9.4.0.
constexpr PillowGolden kPillowGoldens[] = {
    {37, 23, 11, 7, false, 1u, 0xc31cb025dd4692aaull},
    {37, 23, 80, 50, false, 2u, 0x41a8001baa3ec1d2ull},
    {5, 5, 3, 9, false, 3u, 0x870b26eafabf34bfull},
    {640, 8, 384, 3, false, 4u, 0xc884bba8d6737f54ull},
    {17, 300, 17, 40, false, 5u, 0x9357973c1814b6f3ull},
    {300, 17, 40, 17, false, 6u, 0x801ae7b4354b1159ull},
    {50, 37, 384, 384, true, 7u, 0xf0f45e8a9a6438edull},
    {37, 50, 96, 64, true, 8u, 0x8c64bb66ece17007ull},
    {101, 33, 64, 64, true, 9u, 0xe298560c5d22c90dull},
    {64, 64, 64, 64, true, 10u, 0x23acc3a92eb5c945ull},
    {3, 7, 20, 20, true, 11u, 0x34abaf5ef064aeccull},
    {1000, 7, 384, 384, true, 12u, 0x2ceb50b90097ed8cull},
    {33, 101, 64, 64, true, 13u, 0x285eba930c8923ceull},
};

TEST(ResizeBicubic, MatchesPillowBitForBit) {
  for (const PillowGolden& g : kPillowGoldens) {
    const Image in = PatternImage(g.w, g.h, g.seed);
    const Image out = g.pad ? PadImage(in, g.out_w, g.out_h) : ResizeBicubic(in, g.out_w, g.out_h);
    ASSERT_EQ(out.width, g.out_w);
    ASSERT_EQ(out.height, g.out_h);
    ASSERT_EQ(out.rgb.size(), size_t(g.out_w) * g.out_h * 3);
    EXPECT_EQ(Fnv1a(out.rgb), g.fnv)
        << (g.pad ? "pad " : "resize ") << g.w << "x" << g.h << " -> " << g.out_w << "x" << g.out_h;
  }
}

TEST(ResizeBicubic, IdentityAndInvalid) {
  const Image in = PatternImage(9, 4, 3);
  EXPECT_EQ(ResizeBicubic(in, 9, 4).rgb, in.rgb);
  EXPECT_TRUE(ResizeBicubic(in, 0, 4).rgb.empty());
  EXPECT_TRUE(ResizeBicubic(Image(), 4, 4).rgb.empty());
  Image bad = in;
  bad.rgb.pop_back();
  EXPECT_TRUE(ResizeBicubic(bad, 3, 3).rgb.empty());
  // A constant image stays constant under any resize (weights sum to 1 in fixed point).
  Image flat;
  flat.width = 13;
  flat.height = 7;
  flat.rgb.assign(13 * 7 * 3, 200);
  for (auto [w, h] : {std::pair{5, 3}, {40, 21}, {13, 1}, {1, 7}}) {
    const Image r = ResizeBicubic(flat, w, h);
    EXPECT_TRUE(std::all_of(r.rgb.begin(), r.rgb.end(), [](uint8_t v) { return v == 200; }));
  }
}

TEST(PadImage, LetterboxGeometry) {
  // 50x37 into 384x384: new height round(37/50*384) = round(284.16) = 284, offset
  // round((384-284)*0.5) = 50 rows of grey on top, 50 below.
  Image in;
  in.width = 50;
  in.height = 37;
  in.rgb.assign(50 * 37 * 3, 10);
  const Image out = PadImage(in, 384, 384);
  ASSERT_EQ(out.width, 384);
  auto at = [&](int x, int y) { return out.rgb[(size_t(y) * 384 + x) * 3]; };
  EXPECT_EQ(at(0, 49), 127);
  EXPECT_EQ(at(0, 50), 10);
  EXPECT_EQ(at(383, 333), 10);
  EXPECT_EQ(at(383, 334), 127);
  // Odd padding splits with banker's rounding: 3 spare columns -> offset round(1.5) = 2;
  // 5 spare -> round(2.5) = 2.
  Image tall;
  tall.width = 1;
  tall.height = 2;
  tall.rgb.assign(6, 0);
  const Image p = PadImage(tall, 5, 8);  // new width round(1/2*8) = 4 -> 1 spare column: x = 0
  ASSERT_EQ(p.width, 5);
  EXPECT_EQ(p.rgb[0], 0);
  EXPECT_EQ(p.rgb[4 * 3], 127);
  const Image q = PadImage(tall, 7, 8);  // 3 spare columns: x = round(1.5) = 2
  EXPECT_EQ(q.rgb[1 * 3], 127);
  EXPECT_EQ(q.rgb[2 * 3], 0);
  // Extreme aspect ratio: the official code fails (height rounds to 0); we keep one row.
  Image strip;
  strip.width = 5000;
  strip.height = 1;
  strip.rgb.assign(5000 * 3, 90);
  const Image s = PadImage(strip, 384, 384);
  ASSERT_EQ(s.height, 384);
  EXPECT_EQ(s.rgb[(size_t(192) * 384) * 3], 90);
  EXPECT_EQ(s.rgb[(size_t(191) * 384) * 3], 127);
}

TEST(MakeTiles, LayoutAndCroppingSwitch) {
  Image in;
  in.width = 640;
  in.height = 480;
  in.rgb = test_images::Pattern(640, 480, 3, 4);
  const Candidates c = TinyCandidates();
  const ImageTiles t = MakeTiles(in, c, kTile, /*cropping=*/true);
  EXPECT_EQ(t.tiles_w, 2);
  EXPECT_EQ(t.tiles_h, 2);
  ASSERT_EQ(t.tiles_u8.size(), size_t(5) * 3 * kTile * kTile);
  // Tile 1 is the top-left 384x384 of the 768x768 local view, channel planes in order.
  const Image local = PadImage(in, 768, 768);
  const size_t plane = size_t(kTile) * kTile, tile = 3 * plane;
  for (int tile_idx = 0; tile_idx < 4; ++tile_idx) {
    const int x0 = (tile_idx % 2) * kTile, y0 = (tile_idx / 2) * kTile;
    for (int probe = 0; probe < 50; ++probe) {
      const int x = (probe * 37) % kTile, y = (probe * 91) % kTile, ch = probe % 3;
      EXPECT_EQ(t.tiles_u8[tile * (1 + tile_idx) + ch * plane + size_t(y) * kTile + x],
                local.rgb[(size_t(y0 + y) * 768 + x0 + x) * 3 + ch]);
    }
  }
  const ImageTiles single = MakeTiles(in, c, kTile, /*cropping=*/false);
  EXPECT_EQ(single.tiles_w, 1);
  EXPECT_EQ(single.tiles_h, 1);
  EXPECT_EQ(single.num_tiles(), 2);
  // Global view is the same with and without cropping.
  EXPECT_TRUE(std::equal(single.tiles_u8.begin(), single.tiles_u8.begin() + long(tile),
                         t.tiles_u8.begin()));
  EXPECT_TRUE(MakeTiles(Image(), c, kTile, true).tiles_u8.empty());
  EXPECT_TRUE(MakeTiles(in, c, 0, true).tiles_u8.empty());
}

TEST(TilesToFloat, TorchvisionNormalize) {
  const uint8_t px[] = {0, 127, 128, 255};
  float out[4];
  TilesToFloat(px, 4, out);
  EXPECT_EQ(out[0], -1.0f);
  EXPECT_EQ(out[1], (127.0f / 255.0f - 0.5f) / 0.5f);
  EXPECT_NEAR(out[1], -0.0039216f, 1e-7f);
  EXPECT_NEAR(out[2], 0.0039216f, 1e-7f);
  EXPECT_EQ(out[3], 1.0f);
}

// ------------------------------------------------------------------------ official fixtures

struct TileStats {
  int cases = 0;
  int64_t pixels = 0;
  int max_diff = 0;
};

void CheckFixtureTiles(const std::string& model, TileStats* stats) {
  const std::string dir = FixtureDir() + "/" + model;
  const nlohmann::json expected = ReadJson(dir + "/expected.json");
  const Candidates cands = CandidatesOf(ReadJson(dir + "/config.json"));
  auto st = SafetensorsFile::Open(dir + "/expected.safetensors");
  ASSERT_TRUE(st.ok()) << st.status().message();
  for (const auto& [name, c] : expected.at("cases").items()) {
    const TensorView* want = (*st)->Find(name + ".tiles_u8");
    if (want == nullptr) continue;
    SCOPED_TRACE(model + "/" + name);
    ASSERT_EQ(want->dtype, DType::kU8);
    ASSERT_EQ(want->rank(), 4);
    ASSERT_EQ(want->dim(1), 3);
    ASSERT_EQ(want->dim(2), kTile);
    ASSERT_EQ(want->dim(3), kTile);
    const auto& images = c.at("images");
    const auto& crops = c.at("images_spatial_crop");
    ASSERT_EQ(images.size(), crops.size());
    const bool cropping = images.size() <= 2;  // counts all images of the conversation
    std::vector<uint8_t> got;
    for (size_t i = 0; i < images.size(); ++i) {
      auto img = LoadImageFile(dir + "/" + images[i].get<std::string>());
      ASSERT_TRUE(img.ok()) << img.status().message();
      const ImageTiles t = MakeTiles(*img, cands, kTile, cropping);
      EXPECT_EQ(t.tiles_w, crops[i][0].get<int>()) << "image " << i;
      EXPECT_EQ(t.tiles_h, crops[i][1].get<int>()) << "image " << i;
      got.insert(got.end(), t.tiles_u8.begin(), t.tiles_u8.end());
    }
    ASSERT_EQ(got.size(), want->nbytes())
        << "tile count differs: got " << got.size() / (3 * kTile * kTile) << " want "
        << want->dim(0);
    const auto* ref = static_cast<const uint8_t*>(want->data);
    int max_diff = 0;
    int64_t differing = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const int d = std::abs(int(got[i]) - int(ref[i]));
      max_diff = std::max(max_diff, d);
      differing += d != 0;
    }
    EXPECT_EQ(max_diff, 0) << differing << " of " << got.size() << " tile bytes differ";
    stats->cases++;
    stats->pixels += int64_t(got.size());
    stats->max_diff = std::max(stats->max_diff, max_diff);
  }
}

TEST(MakeTiles, IdenticalToOfficialProcessorTiles) {
  TileStats stats;
  for (const char* model : {"tiny-mha", "small-mla", "base-mla-sigmoid"}) {
    CheckFixtureTiles(model, &stats);
  }
  std::printf("[ tiles    ] %d fixture cases, %lld tile bytes, largest difference %d\n",
              stats.cases, static_cast<long long>(stats.pixels), stats.max_diff);
  EXPECT_GE(stats.cases, 11);  // every image case of tiny-mha plus describe_landscape x2
  EXPECT_EQ(stats.max_diff, 0);
}

}  // namespace
}  // namespace dsvl2
