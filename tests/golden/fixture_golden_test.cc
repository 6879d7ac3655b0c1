// Golden tests: every case of every fixture directory (official DeepSeek-VL2 outputs) reproduced
// by the engine: vision features, projector output, inputs_embeds, logits, hidden states, routed
// experts, greedy tokens through the KV cache, KV decode == full recompute, chunked prefill ==
// one pass. Extra fixture directories in the same format: DSVL2_GOLDEN_DIRS=dir1:dir2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "golden/golden_case.h"
#include "model/deepseek_vl2.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"
#include "test_util.h"

namespace dsvl2::testing {
namespace {

// max|a-b| <= 2e-3 * max(1, max|b|)  (float32 compute from the same bf16 weights)
void ExpectClose(const float* got, const TensorView& want, const std::string& what) {
  ASSERT_EQ(want.dtype, DType::kF32) << what;
  Diff d = Compare(got, static_cast<const float*>(want.data), static_cast<size_t>(want.numel()));
  EXPECT_LE(d.max_abs, 2e-3 * std::max(1.0, d.max_ref)) << what << ": max|a-b|=" << d.max_abs
                                                      << " max|b|=" << d.max_ref;
}

void ExpectVeryClose(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  Diff d = Compare(got.data(), want.data(), got.size());
  EXPECT_LE(d.max_abs, 1e-5 * std::max(1.0, d.max_ref)) << what << ": max|a-b|=" << d.max_abs;
}

// Splits the fixture's tiles_u8 [views,3,S,S] into per-image inputs using images_spatial_crop.
std::vector<ImageInput> ImagesFromTiles(const TensorView& tiles, const GoldenCase& c) {
  std::vector<ImageInput> out;
  const int64_t per_view = tiles.numel() / tiles.dim(0);
  const uint8_t* p = static_cast<const uint8_t*>(tiles.data);
  for (auto [tw, th] : c.spatial_crop) {
    ImageInput img;
    img.tiles_w = tw;
    img.tiles_h = th;
    const int64_t n = (1 + static_cast<int64_t>(tw) * th) * per_view;
    img.pixels.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) img.pixels[static_cast<size_t>(i)] = (p[i] / 255.0f - 0.5f) / 0.5f;
    p += n;
    out.push_back(std::move(img));
  }
  return out;
}

Tensor FromView(const TensorView& v) {
  Tensor t(v.shape);
  std::vector<float> f = v.ToFloat();
  std::copy(f.begin(), f.end(), t.data());
  return t;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, AllCases) {
  const std::string dir = GetParam();
  std::string err;
  auto fx = GoldenFixture::Open(dir, &err);
  ASSERT_TRUE(fx) << err;
  auto loaded = DeepseekVL2::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const DeepseekVL2& model = **loaded;
  const DeepseekV2& lm = model.language();
  const int64_t d = lm.config().hidden_size, vocab = lm.config().vocab_size;
  auto pool = KvPool::WithBudget(lm.num_layers(), lm.kv_row_width(), 16, 256ll << 20);

  int image_cases_checked = 0;
  for (const GoldenCase& c : fx->cases()) {
    SCOPED_TRACE(dir + " case " + c.name);
    const int64_t t = static_cast<int64_t>(c.input_ids.size());
    const TensorView* want_embeds = fx->Tensor(c.name, "inputs_embeds");
    ASSERT_NE(want_embeds, nullptr);
    ASSERT_EQ(want_embeds->dim(0), t);

    // Vision tower and projector on the first two views.
    const TensorView* tiles = fx->Tensor(c.name, "tiles_u8");
    if (const TensorView* vf = fx->Tensor(c.name, "vision_features"); vf && tiles) {
      std::vector<ImageInput> imgs = ImagesFromTiles(*tiles, c);
      Tensor feats, proj;
      model.VisionFeatures(imgs[0].pixels.data(), vf->dim(0), &feats);
      ExpectClose(feats.data(), *vf, "vision_features");
      const TensorView* po = fx->Tensor(c.name, "projector_out");
      ASSERT_NE(po, nullptr);
      model.Project(feats, &proj);
      ExpectClose(proj.data(), *po, "projector_out");
    }

    // inputs_embeds from token ids and tiles (cases without stored tiles: from the stored embeds).
    Tensor embeds;
    if (tiles || c.spatial_crop.empty()) {
      std::vector<Tensor> image_embeds;
      if (tiles) {
        for (const ImageInput& img : ImagesFromTiles(*tiles, c)) {
          Tensor e;
          ASSERT_TRUE(model.EncodeImage(img, &e).ok());
          EXPECT_EQ(e.dim(0), model.ImageTokens(img.tiles_w, img.tiles_h));
          image_embeds.push_back(std::move(e));
        }
        ++image_cases_checked;
      }
      Status st = model.BuildInputsEmbeds(c.input_ids, c.images_seq_mask, image_embeds, &embeds);
      ASSERT_TRUE(st.ok()) << st.message();
      ExpectClose(embeds.data(), *want_embeds, "inputs_embeds");
    } else {
      embeds = FromView(*want_embeds);
    }

    // One pass over the prompt: logits at the stored positions, last-token hidden states and
    // routed experts.
    const TensorView* pos = fx->Tensor(c.name, "logits_positions");
    ASSERT_NE(pos, nullptr);
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < pos->numel(); ++i) rows.push_back(static_cast<const int64_t*>(pos->data)[i]);
    Tensor logits;
    ForwardTrace trace;
    trace.row = t - 1;
    {
      PagedSequenceKv kv(pool.get());
      Status st = lm.Forward(embeds, {SeqSlice{&kv, 0, t}}, rows, &logits, &trace);
      ASSERT_TRUE(st.ok()) << st.message();
    }
    ExpectClose(logits.data(), *fx->Tensor(c.name, "logits"), "logits");
    const TensorView* hs = fx->Tensor(c.name, "hidden_states_last_token");
    ASSERT_EQ(static_cast<int64_t>(trace.hidden.size()), hs->dim(0));
    for (int64_t l = 0; l < hs->dim(0); ++l)
      ExpectClose(trace.hidden[static_cast<size_t>(l)].data(), hs->Row(l), "hidden_states[" + std::to_string(l) + "]");
    const TensorView* ex = fx->Tensor(c.name, "experts_last_token");
    ASSERT_EQ(static_cast<int64_t>(trace.experts.size()), ex->dim(0));
    for (int64_t l = 0; l < ex->dim(0); ++l)
      for (int64_t k = 0; k < ex->dim(1); ++k)
        EXPECT_EQ(trace.experts[static_cast<size_t>(l)][static_cast<size_t>(k)],
                  static_cast<const int64_t*>(ex->data)[l * ex->dim(1) + k])
            << "experts_last_token[" << l << "][" << k << "]";

    // Greedy decoding through the KV cache (chunked prefill of 64 tokens).
    GenerationParams gp;
    gp.max_new_tokens = static_cast<int>(c.greedy_tokens.size());
    gp.chunk_size = 64;
    gp.keep_logits = true;
    GenerationResult res;
    {
      PagedSequenceKv kv(pool.get());
      Status st = Generate(lm, &kv, embeds, c.input_ids, gp, nullptr, &res);
      ASSERT_TRUE(st.ok()) << st.message();
    }
    ASSERT_EQ(res.tokens.size(), c.greedy_tokens.size());
    for (size_t i = 0; i < c.greedy_tokens.size(); ++i) {
      EXPECT_EQ(res.tokens[i], c.greedy_tokens[i]) << "greedy step " << i;
      if (c.greedy_margins[i] < 0.01) break;  // a near-tie may flip; later steps then diverge
    }

    // KV-cache decode == full recompute of prompt + generated tokens.
    const int64_t gen = static_cast<int64_t>(res.tokens.size());
    Tensor full({t + gen - 1, d});
    std::copy(embeds.data(), embeds.data() + t * d, full.data());
    ASSERT_TRUE(lm.Embed(res.tokens.data(), gen - 1, full.row(t)).ok());
    Tensor full_logits;
    {
      PagedSequenceKv kv(pool.get());
      ASSERT_TRUE(lm.Forward(full, {SeqSlice{&kv, 0, t + gen - 1}}, {t + gen - 2}, &full_logits).ok());
    }
    ExpectVeryClose(std::vector<float>(full_logits.data(), full_logits.data() + vocab),
                    res.step_logits.back(), "KV decode vs recompute");

    // Chunked prefill (odd chunk sizes) == one pass.
    std::vector<float> one, chunked;
    {
      PagedSequenceKv kv(pool.get());
      ASSERT_TRUE(Prefill(lm, &kv, embeds, 0, &one).ok());
    }
    for (int64_t chunk : {7, 100}) {
      PagedSequenceKv kv(pool.get());
      ASSERT_TRUE(Prefill(lm, &kv, embeds, chunk, &chunked).ok());
      ExpectVeryClose(chunked, one, "chunked prefill " + std::to_string(chunk));
    }
  }
  EXPECT_GT(image_cases_checked, 0) << "no case with tiles_u8 in " << dir;
  EXPECT_EQ(pool->free_blocks(), pool->num_blocks()) << "KV blocks leaked";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest, ::testing::ValuesIn(GoldenDirs()),
                         GoldenTestName);

}  // namespace
}  // namespace dsvl2::testing
