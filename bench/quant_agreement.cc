// Top-1 agreement of quantized weights with bf16 on a real-shape model:
//   quant_agreement --model DIR [--prompt TEXT] [--tokens N] [--weights q8,q4]
// Decodes N greedy tokens with the weights as stored (bf16), then runs each quantized variant
// (load-time conversion) teacher-forced over prompt + those tokens in one pass and counts the
// positions whose argmax equals the bf16 token; also over positions where the bf16 top-2 logit
// margin is at least 10% of the logits' standard deviation (clear choices). As a control the bf16
// model itself is run the same way (batch vs incremental numerics only).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"

using namespace dsvl2;

namespace {

std::vector<int32_t> ArgMaxRows(const Tensor& logits) {
  std::vector<int32_t> out;
  for (int64_t r = 0; r < logits.dim(0); ++r)
    out.push_back(static_cast<int32_t>(std::max_element(logits.row(r), logits.row(r) + logits.dim(1)) - logits.row(r)));
  return out;
}

// Logits at rows [t0-1, t0+n-1) of prompt + generated, one pass.
Status TeacherForced(const DeepseekV2& lm, const Tensor& prompt_embeds, const std::vector<int32_t>& gen, Tensor* logits) {
  const int64_t t0 = prompt_embeds.dim(0), d = lm.config().hidden_size, n = static_cast<int64_t>(gen.size());
  Tensor all({t0 + n - 1, d});
  std::copy(prompt_embeds.data(), prompt_embeds.data() + t0 * d, all.data());
  RETURN_IF_ERROR(lm.Embed(gen.data(), n - 1, all.row(t0)));
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; ++i) rows.push_back(t0 - 1 + i);
  auto pool = KvPool::WithBudget(lm.num_layers(), lm.kv_row_width(), 16, 2048ll << 20);
  PagedSequenceKv kv(pool.get());
  return lm.Forward(all, {SeqSlice{&kv, 0, all.dim(0)}}, rows, logits);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, prompt = "Write a long story about a cat who learns to sail across the ocean.", weights = "q8,q4";
  int tokens = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
    if (!std::strcmp(argv[i], "--prompt")) prompt = argv[i + 1];
    if (!std::strcmp(argv[i], "--tokens")) tokens = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--weights")) weights = argv[i + 1];
  }
  if (model.empty()) {
    std::fprintf(stderr, "usage: quant_agreement --model DIR [--prompt TEXT] [--tokens N] [--weights q8,q4]\n");
    return 2;
  }
  std::vector<int32_t> gen, ids;
  std::vector<float> margins;  // bf16 top-2 margin / logit std at each generated position
  Tensor prompt_embeds;
  std::vector<std::string> variants = {""};
  for (size_t p = 0; p <= weights.size();) {
    size_t c = weights.find(',', p);
    if (c == std::string::npos) c = weights.size();
    variants.push_back(weights.substr(p, c - p));
    p = c + 1;
  }
  for (const std::string& w : variants) {
    EngineOptions eo;
    eo.weights = w;
    auto e = Engine::Load(model, eo);
    if (!e.ok()) {
      std::fprintf(stderr, "%s\n", e.status().message().c_str());
      return 1;
    }
    const DeepseekV2& lm = (*e)->model().language();
    if (w.empty()) {
      auto p = (*e)->Prepare({Turn{"user", prompt, {}}});
      if (!p.ok()) return 1;
      ids = p->tokens.input_ids;
      if (!(*e)->model().BuildInputsEmbeds(ids, p->tokens.images_seq_mask, {}, &prompt_embeds).ok()) return 1;
      GenerationParams gp;
      gp.max_new_tokens = tokens;
      gp.keep_logits = true;
      GenerationResult res;
      auto pool = KvPool::WithBudget(lm.num_layers(), lm.kv_row_width(), 16, 2048ll << 20);
      PagedSequenceKv kv(pool.get());
      Status st = Generate(lm, &kv, prompt_embeds, ids, gp, nullptr, &res);
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
      gen = res.tokens;
      for (const auto& l : res.step_logits) {
        std::vector<float> s = l;
        std::partial_sort(s.begin(), s.begin() + 2, s.end(), std::greater<float>());
        double mean = 0, sq = 0;
        for (float v : l) mean += v;
        mean /= static_cast<double>(l.size());
        for (float v : l) sq += (v - mean) * (v - mean);
        margins.push_back(static_cast<float>((s[0] - s[1]) / std::sqrt(sq / static_cast<double>(l.size()))));
      }
      std::printf("bf16: prompt %zu tokens, generated %zu greedy tokens\n", ids.size(), gen.size());
    }
    Tensor logits;
    Status st = TeacherForced(lm, prompt_embeds, gen, &logits);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    const std::vector<int32_t> top = ArgMaxRows(logits);
    int agree = 0, clear = 0, clear_agree = 0;
    for (size_t i = 0; i < gen.size(); ++i) {
      agree += top[i] == gen[i];
      if (margins[i] >= 0.1f) {
        ++clear;
        clear_agree += top[i] == gen[i];
      }
    }
    std::printf("%-4s teacher-forced top-1 agreement with bf16 greedy: %d/%zu (%.1f%%); at clear positions "
                "(margin >= 0.1 std): %d/%d (%.1f%%)\n",
                w.empty() ? "bf16" : w.c_str(), agree, gen.size(), 100.0 * agree / gen.size(), clear_agree, clear,
                clear ? 100.0 * clear_agree / clear : 0.0);
    std::fflush(stdout);
  }
  return 0;
}
