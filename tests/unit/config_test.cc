#include <gtest/gtest.h>

#include "io/config.h"
#include "io/mapped_file.h"
#include "test_util.h"

namespace dsvl2 {
namespace {

TEST(Config, DefaultsOfTheOfficialClasses) {
  // small-mla leaves out use_mla, rope_theta, rms_norm_eps, scoring_func, image_size, ...
  auto c = LoadVl2Config(testing::DataDir() + "/fixtures/small-mla");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const LanguageConfig& l = c->language_config;
  EXPECT_TRUE(l.use_mla);
  EXPECT_EQ(l.scoring_func, "softmax");
  EXPECT_EQ(l.q_lora_rank, 0);
  EXPECT_DOUBLE_EQ(l.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(l.rms_norm_eps, 1e-6);
  EXPECT_EQ(l.moe_layer_freq, 1);
  EXPECT_EQ(c->vision_config.image_size, 384);
  EXPECT_EQ(c->vision_config.mlp_hidden(), 239);  // int(64 * 3.7362)
  EXPECT_EQ(c->projector_config.projector_type, "downsample_mlp_gelu");
  EXPECT_EQ(c->candidate_resolutions.size(), 23u);
  auto b = LoadVl2Config(testing::DataDir() + "/fixtures/base-mla-sigmoid");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->language_config.q_lora_rank, 48);
  EXPECT_EQ(b->language_config.topk_method, "noaux_tc");
  auto t = LoadVl2Config(testing::DataDir() + "/fixtures/tiny-mha");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->language_config.use_mla);
}

std::string Patched(const std::string& key, const std::string& value) {
  std::string text = ReadFileToString(testing::DataDir() + "/fixtures/tiny-mha/config.json").value();
  const std::string needle = "\"" + key + "\": ";
  size_t p = text.find(needle);
  EXPECT_NE(p, std::string::npos) << key;
  size_t e = text.find_first_of(",\n}", p + needle.size());
  return text.substr(0, p + needle.size()) + value + text.substr(e);
}

TEST(Config, UnsupportedValuesAreRefused) {
  struct C { const char* key; const char* value; const char* expect; };
  for (const C& c : {C{"topk_method", "\"fancy\"", "topk_method 'fancy'"},
                     C{"rope_scaling", "{\"type\": \"yarn\", \"factor\": 40}", "rope_scaling"},
                     C{"scoring_func", "\"relu\"", "scoring_func 'relu'"},
                     C{"projector_type", "\"linear\"", "projector_type 'linear'"},
                     C{"hidden_size", "\"big\"", "hidden_size: unexpected type"},
                     C{"n_embed", "32", "n_embed 32"},
                     C{"tile_tag", "\"1D\"", "tile_tag"},
                     C{"n_group", "3", "n_group"}}) {
    auto r = ParseVl2Config(Patched(c.key, c.value), "cfg.json");
    ASSERT_FALSE(r.ok()) << c.key;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(ParseVl2Config("[]", "x").ok());
  EXPECT_FALSE(ParseVl2Config("{\"model_type\": \"llama\"}", "x").ok());
  EXPECT_FALSE(ParseVl2Config("{}", "x").ok());  // no sub-configs
}

}  // namespace
}  // namespace dsvl2
