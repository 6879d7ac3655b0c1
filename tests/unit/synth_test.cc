// `dsvl2 synth`: random-weight models with real shapes.
//  - The plans (--dry-run) of vl2-tiny/small/base equal the official tensor inventories (names,
//    shapes, order, parameter counts) and their configs parse to the official values; the
//    baselines have the documented shapes (LLaMA-2-7B/13B parameter counts, MoE-LLaVA layout).
//  - Every preset, written with --layers 2 (small vocab and one vision block to stay fast), loads
//    with DeepseekVL2::Load (every tensor name/shape checked against the config), has a
//    consistent shard index, and runs a language-model forward pass with finite logits on ids
//    from its own tokenizer.
//  - Output is deterministic in --seed; value scales are as documented.
//  - Bad input: one clear line on stderr and a non-zero exit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/quant.h"
#include "io/config.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "io/weights.h"
#include "model/deepseek_vl2.h"
#include "runtime/kv_cache.h"
#include "test_util.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

namespace dsvl2 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct RunResult {
  int rc = -1;
  std::string out, err;
};

// Runs `dsvl2 synth ARGS`, capturing stdout and stderr.
RunResult Synth(const std::string& args) {
  const std::string tmp = testing::MakeTempDir();
  const std::string cmd = std::string(DSVL2_BINARY) + " synth " + args + " >'" + tmp +
                          "/out.txt' 2>'" + tmp + "/err.txt'";
  RunResult r;
  const int rc = std::system(cmd.c_str());
  r.rc = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = ReadFileToString(tmp + "/out.txt").value();
  r.err = ReadFileToString(tmp + "/err.txt").value();
  return r;
}

// The --dry-run plan for `args` (memoised: several tests look at the same presets).
const json& DryRun(const std::string& args) {
  static std::map<std::string, json> cache;
  auto it = cache.find(args);
  if (it != cache.end()) return it->second;
  RunResult r = Synth(args + " --dry-run");
  EXPECT_EQ(r.rc, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out.substr(0, 200);
  return cache[args] = std::move(j);
}

Vl2Config ParsedConfig(const json& plan) {
  auto c = ParseVl2Config(plan["config"].dump(), "plan");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : Vl2Config();
}

// docs/checkpoints of the shared spec (tensor inventories, published Base config), if present.
std::string CheckpointDocsDir() {
  if (const char* env = std::getenv("DSVL2_CHECKPOINT_DOCS")) return env;
  const fs::path p = fs::path(testing::DataDir()) / ".." / ".." / ".." / "shared" / "docs" / "checkpoints";
  std::error_code ec;
  return fs::is_directory(p, ec) ? p.string() : "";
}

// Parameters of the tensors whose names start with `prefix`.
int64_t Params(const json& plan, const std::string& prefix = "") {
  int64_t n = 0;
  for (const auto& t : plan["tensors"]) {
    if (t[0].get<std::string>().rfind(prefix, 0) != 0) continue;
    int64_t e = 1;
    for (const auto& d : t[1]) e *= d.get<int64_t>();
    n += e;
  }
  return n;
}

bool HasTensor(const json& plan, const std::string& name) {
  for (const auto& t : plan["tensors"])
    if (t[0] == name) return true;
  return false;
}

// ---- plans of the official presets -------------------------------------------------------

struct Official {
  const char* preset;
  size_t tensors;
  int64_t params;
  size_t shards;
};

class OfficialPlan : public ::testing::TestWithParam<Official> {};

TEST_P(OfficialPlan, MatchesInventory) {
  const Official& o = GetParam();
  const json& plan = DryRun(std::string("--preset ") + o.preset);
  EXPECT_EQ(plan["tensors"].size(), o.tensors);
  EXPECT_EQ(Params(plan), o.params);
  EXPECT_EQ(plan["num_params"].get<int64_t>(), o.params);
  EXPECT_EQ(plan["total_size"].get<int64_t>(), 2 * o.params);  // bf16
  ASSERT_EQ(plan["shards"].size(), o.shards);
  for (size_t k = 0; k < o.shards; ++k) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%06zu.safetensors", k + 1, o.shards);
    EXPECT_EQ(plan["shards"][k]["file"], name);
    EXPECT_LE(plan["shards"][k]["size"].get<int64_t>(), int64_t{8} << 30);
  }
  const std::string docs = CheckpointDocsDir();
  if (docs.empty()) GTEST_SKIP() << "docs/checkpoints not found; set DSVL2_CHECKPOINT_DOCS";
  const std::string preset = o.preset;
  auto text = ReadFileToString(docs + "/" + preset + ".tensors.json");
  ASSERT_TRUE(text.ok()) << text.status().message();
  const nlohmann::ordered_json inv = nlohmann::ordered_json::parse(*text);
  ASSERT_EQ(inv.size(), plan["tensors"].size());
  size_t i = 0;
  for (auto it = inv.begin(); it != inv.end(); ++it, ++i) {  // same names, shapes and order
    ASSERT_EQ(plan["tensors"][i][0], it.key()) << "tensor " << i;
    ASSERT_EQ(plan["tensors"][i][1], json(*it)) << it.key();
  }
  if (preset == "vl2-base") {  // the config is the published one, byte for byte as JSON
    auto published = ReadFileToString(docs + "/vl2-base.config.json");
    ASSERT_TRUE(published.ok());
    EXPECT_EQ(plan["config"], json::parse(*published));
  }
}

INSTANTIATE_TEST_SUITE_P(Synth, OfficialPlan,
                         ::testing::Values(Official{"vl2-tiny", 2582, 3370501440LL, 1},
                                           Official{"vl2-small", 5639, 16148349504LL, 4},
                                           Official{"vl2-base", 6973, 27480134248LL, 7}),
                         [](const auto& info) {
                           std::string n = info.param.preset;
                           n.erase(n.find('-'), 1);
                           return n;
                         });

TEST(Synth, OfficialConfigValues) {
  const Vl2Config tiny = ParsedConfig(DryRun("--preset vl2-tiny"));
  const LanguageConfig& t = tiny.language_config;
  EXPECT_FALSE(t.use_mla);
  EXPECT_EQ(t.hidden_size, 1280);
  EXPECT_EQ(t.num_hidden_layers, 12);
  EXPECT_EQ(t.num_attention_heads, 10);
  EXPECT_EQ(t.vocab_size, 129280);
  EXPECT_EQ(t.n_routed_experts, 64);
  EXPECT_EQ(t.num_experts_per_tok, 6);
  EXPECT_EQ(t.topk_method, "greedy");
  EXPECT_EQ(tiny.candidate_resolutions.size(), 23u);
  EXPECT_EQ(tiny.vision_config.layers, 27);
  EXPECT_EQ(tiny.vision_config.mlp_hidden(), 4304);
  EXPECT_EQ(tiny.projector_config.n_embed, 1280);

  const LanguageConfig s = ParsedConfig(DryRun("--preset vl2-small")).language_config;
  EXPECT_TRUE(s.use_mla);
  EXPECT_EQ(s.hidden_size, 2048);
  EXPECT_EQ(s.num_hidden_layers, 27);
  EXPECT_EQ(s.num_attention_heads, 16);
  EXPECT_EQ(s.kv_lora_rank, 512);
  EXPECT_EQ(s.q_lora_rank, 0);
  EXPECT_EQ(s.qk_nope_head_dim, 128);
  EXPECT_EQ(s.qk_rope_head_dim, 64);
  EXPECT_EQ(s.v_head_dim, 128);
  EXPECT_EQ(s.vocab_size, 102400);
  EXPECT_EQ(s.intermediate_size, 10944);
  EXPECT_EQ(s.moe_intermediate_size, 1408);
  EXPECT_EQ(s.scoring_func, "softmax");
  EXPECT_EQ(s.topk_method, "greedy");
  EXPECT_FALSE(s.norm_topk_prob);
  EXPECT_EQ(s.routed_scaling_factor, 1.0);

  const LanguageConfig b = ParsedConfig(DryRun("--preset vl2-base")).language_config;
  EXPECT_TRUE(b.use_mla);
  EXPECT_EQ(b.hidden_size, 2560);
  EXPECT_EQ(b.num_hidden_layers, 30);
  EXPECT_EQ(b.num_attention_heads, 32);
  EXPECT_EQ(b.n_routed_experts, 72);
  EXPECT_EQ(b.n_shared_experts, 2);
  EXPECT_EQ(b.topk_method, "noaux_tc");
  EXPECT_EQ(b.scoring_func, "sigmoid");
  EXPECT_TRUE(b.norm_topk_prob);
  EXPECT_EQ(b.routed_scaling_factor, 2.0);
  EXPECT_EQ(b.vocab_size, 129280);
}

TEST(Synth, BaselineShapes) {
  // dense-7b / dense-13b: exactly LLaMA-2-7B / 13B (LLaVA-1.5's language models).
  const json d7 = DryRun("--preset dense-7b");
  const LanguageConfig l7 = ParsedConfig(d7).language_config;
  EXPECT_EQ(l7.num_hidden_layers, 32);
  EXPECT_EQ(l7.hidden_size, 4096);
  EXPECT_EQ(l7.intermediate_size, 11008);
  EXPECT_EQ(l7.num_attention_heads, 32);
  EXPECT_FALSE(l7.use_mla);
  EXPECT_EQ(l7.n_routed_experts, 0);
  EXPECT_EQ(l7.vocab_size, 32000);
  EXPECT_EQ(Params(d7, "language."), 6738415616LL);
  EXPECT_FALSE(HasTensor(d7, "language.model.layers.1.mlp.gate.weight"));
  EXPECT_TRUE(HasTensor(d7, "vision.blocks.26.attn.qkv.weight"));
  EXPECT_EQ(ParsedConfig(d7).projector_config.n_embed, 4096);

  const json d13 = DryRun("--preset dense-13b");
  const LanguageConfig l13 = ParsedConfig(d13).language_config;
  EXPECT_EQ(l13.num_hidden_layers, 40);
  EXPECT_EQ(l13.hidden_size, 5120);
  EXPECT_EQ(l13.intermediate_size, 13824);
  EXPECT_EQ(l13.num_attention_heads, 40);
  EXPECT_EQ(Params(d13, "language."), 13015864320LL);

  // moe-llava: MoE (4 experts, top-2, no shared) in layers 0, 2, 4, ...; dense FFN in the others.
  const json m = DryRun("--preset moe-llava");
  const LanguageConfig lm = ParsedConfig(m).language_config;
  EXPECT_EQ(lm.hidden_size, 2560);
  EXPECT_EQ(lm.num_hidden_layers, 32);
  EXPECT_EQ(lm.n_routed_experts, 4);
  EXPECT_EQ(lm.num_experts_per_tok, 2);
  EXPECT_EQ(lm.n_shared_experts, 0);
  for (int l = 0; l < 32; ++l) {
    const std::string pre = "language.model.layers." + std::to_string(l) + ".mlp.";
    EXPECT_EQ(lm.IsMoeLayer(l), l % 2 == 0) << l;
    EXPECT_EQ(HasTensor(m, pre + "experts.3.down_proj.weight"), l % 2 == 0) << l;
    EXPECT_EQ(HasTensor(m, pre + "gate_proj.weight"), l % 2 == 1) << l;
  }
  EXPECT_FALSE(HasTensor(m, "language.model.layers.0.mlp.shared_experts.up_proj.weight"));
}

TEST(Synth, TokenizerChoice) {
  // Small's vocabulary (102400) cannot hold the V3 tokenizer's ids: the byte-level one ships.
  EXPECT_NE(DryRun("--preset vl2-small")["tokenizer"].get<std::string>().find("demo-model"),
            std::string::npos);
  EXPECT_NE(DryRun("--preset dense-7b")["tokenizer"].get<std::string>().find("demo-model"),
            std::string::npos);
  const std::string tiny = DryRun("--preset vl2-tiny")["tokenizer"];
  const fs::path v3 = fs::path(testing::DataDir()) / ".." / ".." / "third_party" / "downloads" /
                      "deepseek_v3_tokenizer.json";
  std::error_code ec;
  if (fs::exists(v3, ec)) {
    EXPECT_NE(tiny.find("deepseek_v3_tokenizer.json"), std::string::npos);
  }
}

// ---- written models ----------------------------------------------------------------------

// The index lists every tensor of every shard exactly once, the shard files are exactly the
// ones named model-0000k-of-00000n, and total_size is the sum of the tensor bytes.
void CheckShardsAndIndex(const std::string& dir) {
  auto text = ReadFileToString(dir + "/model.safetensors.index.json");
  ASSERT_TRUE(text.ok());
  const json index = json::parse(*text);
  std::map<std::string, std::set<std::string>> by_shard;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it)
    by_shard[it.value().get<std::string>()].insert(it.key());
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") files.insert(e.path().filename().string());
  ASSERT_EQ(files.size(), by_shard.size());
  int64_t total = 0;
  size_t k = 0;
  for (const std::string& f : files) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%06zu.safetensors", ++k, files.size());
    EXPECT_EQ(f, name);
    auto st = SafetensorsFile::Open(dir + "/" + f);
    ASSERT_TRUE(st.ok()) << st.status().message();
    std::set<std::string> names;
    for (const auto& [n, v] : (*st)->tensors()) {
      names.insert(n);
      total += static_cast<int64_t>(v.nbytes());
    }
    EXPECT_EQ(names, by_shard[f]) << f;
    EXPECT_EQ((*st)->metadata().at("format"), "pt");
  }
  EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), total);
}

// Runs the language model over `ids` (prefill, then one decode step) and checks the logits.
void CheckForward(const DeepseekVL2& model, const std::vector<int32_t>& ids) {
  const DeepseekV2& lm = model.language();
  const int64_t t = static_cast<int64_t>(ids.size()), d = lm.config().hidden_size;
  KvPool pool(lm.num_layers(), lm.kv_row_width(), 16, 8);
  PagedSequenceKv kv(&pool);
  Tensor emb({t, d}), logits;
  ASSERT_TRUE(lm.Embed(ids.data(), t, emb.data()).ok());
  Status st = lm.Forward(emb, {{&kv, 0, t}}, {t - 1}, &logits);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(logits.dim(1), lm.config().vocab_size);
  double sum2 = 0;
  int32_t best = 0;
  for (int64_t i = 0; i < logits.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(logits.data()[i])) << "logit " << i;
    sum2 += static_cast<double>(logits.data()[i]) * logits.data()[i];
    if (logits.data()[i] > logits.data()[best]) best = static_cast<int32_t>(i);
  }
  EXPECT_GT(sum2, 0.0);
  Tensor next({1, d});  // decode one step with the argmax token
  ASSERT_TRUE(lm.Embed(&best, 1, next.data()).ok());
  st = lm.Forward(next, {{&kv, 0, 1}}, {0}, &logits);
  ASSERT_TRUE(st.ok()) << st.message();
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_TRUE(std::isfinite(logits.data()[i]));
  EXPECT_EQ(kv.length(), t + 1);
}

class WrittenModel : public ::testing::TestWithParam<const char*> {};

TEST_P(WrittenModel, LoadsAndRuns) {
  const std::string preset = GetParam();
  const std::string dir = testing::MakeTempDir() + "/model";
  // vl2-tiny also exercises multiple shards.
  const std::string shard = preset == "vl2-tiny" ? " --max-shard-mb 64" : "";
  RunResult r = Synth("--preset " + preset + " --out " + dir +
                      " --layers 2 --vision-layers 1 --vocab 2048 --seed 3" + shard);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("synth: wrote " + preset), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("(100%)"), std::string::npos) << r.err;  // progress reached the end

  for (const char* f : {"config.json", "processor_config.json", "tokenizer.json",
                        "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  CheckShardsAndIndex(dir);
  if (preset == "vl2-tiny") {
    EXPECT_GT(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 8);
  }

  auto model = DeepseekVL2::Load(dir);  // every tensor name/shape against the config
  ASSERT_TRUE(model.ok()) << model.status().message();
  const Vl2Config& cfg = (*model)->config();
  EXPECT_EQ(cfg.language_config.num_hidden_layers, 2);
  EXPECT_EQ(cfg.language_config.vocab_size, 2048);
  EXPECT_EQ(cfg.vision_config.layers, 1);
  // The unshrunk parts keep the preset's values.
  const Vl2Config full = ParsedConfig(DryRun("--preset " + preset));
  EXPECT_EQ(cfg.language_config.hidden_size, full.language_config.hidden_size);
  EXPECT_EQ(cfg.language_config.n_routed_experts, full.language_config.n_routed_experts);
  EXPECT_EQ(cfg.language_config.use_mla, full.language_config.use_mla);
  EXPECT_EQ(cfg.language_config.topk_method, full.language_config.topk_method);
  EXPECT_EQ(cfg.vision_config.width, 1152);

  // Ids from the shipped tokenizer (with the VL2 tokens the processor adds) fit the vocabulary.
  auto tok = Tokenizer::FromModelDir(dir);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  (*tok)->AddSpecialTokens(Vl2SpecialTokens());
  EXPECT_LE((*tok)->vocab_size(), cfg.language_config.vocab_size);
  std::vector<int32_t> ids = {*(*tok)->bos_id()};
  for (int32_t id : (*tok)->Encode("<|User|>: Describe the picture.\n\n<|Assistant|>:")) ids.push_back(id);
  CheckForward(**model, ids);

  std::error_code ec;
  fs::remove_all(dir, ec);  // free the disk early
}

INSTANTIATE_TEST_SUITE_P(Synth, WrittenModel,
                         ::testing::Values("vl2-tiny", "vl2-small", "vl2-base", "dense-7b",
                                           "dense-13b", "moe-llava"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n.erase(n.find('-'), 1);
                           return n;
                         });

// Whether the single shards of two model directories hold the same bytes.
bool SameShard(const std::string& a, const std::string& b) {
  const std::string shard = "/model-00001-of-000001.safetensors";
  auto fa = MappedFile::Open(a + shard), fb = MappedFile::Open(b + shard);
  EXPECT_TRUE(fa.ok() && fb.ok());
  if (!fa.ok() || !fb.ok()) return false;
  return (*fa)->size() == (*fb)->size() &&
         std::memcmp((*fa)->data(), (*fb)->data(), (*fa)->size()) == 0;
}

TEST(Synth, DeterministicSeedAndValueScales) {
  const std::string root = testing::MakeTempDir();
  const std::string base_args = "--preset vl2-tiny --layers 1 --vision-layers 1 --vocab 1024";
  ASSERT_EQ(Synth(base_args + " --seed 7 --out " + root + "/a").rc, 0);
  ASSERT_EQ(Synth(base_args + " --seed 7 --out " + root + "/b").rc, 0);
  ASSERT_EQ(Synth(base_args + " --seed 8 --out " + root + "/c").rc, 0);
  EXPECT_TRUE(SameShard(root + "/a", root + "/b"));
  EXPECT_FALSE(SameShard(root + "/a", root + "/c"));

  auto f = SafetensorsFile::Open(root + "/a/model-00001-of-000001.safetensors");
  ASSERT_TRUE(f.ok());
  const TensorView* w = (*f)->Find("language.model.layers.0.mlp.gate_proj.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::kBF16);
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < w->numel(); ++i) {
    sum += w->At(i);
    sum2 += static_cast<double>(w->At(i)) * w->At(i);
  }
  const double mean = sum / static_cast<double>(w->numel());
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(std::sqrt(sum2 / static_cast<double>(w->numel()) - mean * mean), 0.02, 0.001);
  for (const char* name : {"language.model.layers.0.input_layernorm.weight", "vision.norm.weight"}) {
    const TensorView* n = (*f)->Find(name);
    ASSERT_NE(n, nullptr) << name;
    for (int64_t i = 0; i < n->numel(); ++i) ASSERT_EQ(n->At(i), 1.0f) << name;
  }
  const TensorView* b = (*f)->Find("projector.layers.0.bias");
  ASSERT_NE(b, nullptr);
  for (int64_t i = 0; i < b->numel(); ++i) ASSERT_EQ(b->At(i), 0.0f);
  for (const char* dtype : {"f16", "f32"}) {  // other dtypes load too
    const std::string dir = root + "/" + dtype;
    ASSERT_EQ(Synth(base_args + " --dtype " + dtype + " --out " + dir).rc, 0);
    auto m = DeepseekVL2::Load(dir);
    EXPECT_TRUE(m.ok()) << m.status().message();
  }
}

// --dtype q8|q4: the language model's linear weights quantized (the very bytes load-time
// quantization makes of the --dtype f32 values), everything else bf16; the model loads.
TEST(Synth, QuantizedDtypes) {
  const std::string root = testing::MakeTempDir();
  const std::string base_args = "--preset vl2-tiny --layers 1 --vision-layers 1 --vocab 1024";
  ASSERT_EQ(Synth(base_args + " --dtype f32 --out " + root + "/f32").rc, 0);
  auto f32 = SafetensorsFile::Open(root + "/f32/model-00001-of-000001.safetensors");
  ASSERT_TRUE(f32.ok());
  for (const char* dtype : {"q8", "q4"}) {
    const std::string dir = root + "/" + dtype;
    ASSERT_EQ(Synth(base_args + " --dtype " + dtype + " --out " + dir).rc, 0);
    auto f = SafetensorsFile::Open(dir + "/model-00001-of-000001.safetensors");
    ASSERT_TRUE(f.ok()) << f.status().message();
    DType want;
    ASSERT_TRUE(ParseQuantFormat(dtype, &want));
    for (const char* name : {"language.model.layers.0.mlp.gate_proj.weight", "language.lm_head.weight",
                             "language.model.layers.0.self_attn.q_proj.weight"}) {
      const TensorView* w = (*f)->Find(name);
      ASSERT_NE(w, nullptr) << name;
      EXPECT_EQ(w->dtype, want) << name;
      OwnedWeights owned;
      const TensorView q = ConvertMatrix(*(*f32)->Find(name), want, &owned);
      ASSERT_EQ(q.nbytes(), w->nbytes());
      EXPECT_EQ(std::memcmp(q.data, w->data, q.nbytes()), 0) << name;
    }
    for (const char* name : {"language.model.embed_tokens.weight", "vision.blocks.0.mlp.fc2.weight"})
      EXPECT_EQ((*f)->Find(name)->dtype, DType::kBF16) << name;
    auto m = DeepseekVL2::Load(dir);
    EXPECT_TRUE(m.ok()) << m.status().message();
  }
}

// ---- errors ------------------------------------------------------------------------------

void ExpectOneLineError(const RunResult& r, const std::string& needle) {
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Synth, Errors) {
  const std::string root = testing::MakeTempDir();
  RunResult r = Synth("--preset vl2-huge --out " + root + "/x");
  ExpectOneLineError(r, "unknown preset 'vl2-huge'");
  EXPECT_NE(r.err.find("vl2-tiny, vl2-small, vl2-base, dense-7b, dense-13b, moe-llava"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(root + "/x"));

  ExpectOneLineError(Synth("--preset vl2-tiny --out " + root + "/x --dtype f8"), "--dtype");
  ExpectOneLineError(Synth("--preset vl2-tiny --out " + root + "/x --layers 0"), "--layers");
  ExpectOneLineError(Synth("--preset vl2-tiny --out " + root + "/x --vocab 100"), "vocab_size 100");
  ExpectOneLineError(Synth("--out " + root + "/x"), "--preset is required");
  ExpectOneLineError(Synth("--preset vl2-tiny"), "--out");

  // Non-empty output directory: refused without --force; with it, written (stale shards gone).
  const std::string busy = root + "/busy";
  fs::create_directories(busy);
  std::ofstream(busy + "/notes.txt") << "keep me";
  std::ofstream(busy + "/model-00001-of-000009.safetensors") << "stale";
  const std::string small = " --preset dense-7b --layers 1 --vision-layers 1 --vocab 1024";
  ExpectOneLineError(Synth("--out " + busy + small), "not empty");
  r = Synth("--out " + busy + small + " --force");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(fs::exists(busy + "/notes.txt"));
  EXPECT_FALSE(fs::exists(busy + "/model-00001-of-000009.safetensors"));
  EXPECT_TRUE(DeepseekVL2::Load(busy).ok());

  // Unwritable location: a path below a regular file.
  ExpectOneLineError(Synth("--preset vl2-tiny --out " + busy + "/notes.txt/sub"), "cannot create");
  ExpectOneLineError(Synth("--preset vl2-tiny --out " + busy + "/notes.txt"), "not a directory");
}

}  // namespace
}  // namespace dsvl2
