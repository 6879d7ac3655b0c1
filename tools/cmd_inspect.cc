// dsvl2 inspect --model DIR: parse config.json, open the checkpoint, list tensors.
#include <cstdio>
#include <cstring>
#include <string>

#include "io/config.h"
#include "io/safetensors.h"
#include "model/deepseek_vl2.h"

namespace dsvl2::tools {

int RunInspect(int argc, char** argv) {
  std::string model;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
  }
  if (model.empty()) {
    std::fprintf(stderr, "usage: dsvl2 inspect --model DIR\n");
    return 2;
  }
  auto cfg = LoadVl2Config(model);
  if (!cfg.ok()) {
    std::fprintf(stderr, "dsvl2: %s\n", cfg.status().message().c_str());
    return 1;
  }
  auto store = TensorStore::OpenDir(model);
  if (!store.ok()) {
    std::fprintf(stderr, "dsvl2: %s\n", store.status().message().c_str());
    return 1;
  }
  auto model_or = DeepseekVL2::Load(model);  // checks every tensor the model needs
  if (!model_or.ok()) {
    std::fprintf(stderr, "dsvl2: %s\n", model_or.status().message().c_str());
    return 1;
  }
  const Vl2Config& c = (*model_or)->config();
  const LanguageConfig& l = c.language_config;
  std::printf("model: %s\n", model.c_str());
  std::printf("tensors: %zu\n", (*store)->size());
  std::printf("vision: %d layers, width %d, %d heads, patch %d, image %d\n", c.vision_config.layers,
              c.vision_config.width, c.vision_config.heads, c.vision_config.patch_size,
              c.vision_config.image_size);
  std::printf("language: %d layers, hidden %d, %d heads, %s, vocab %d\n", l.num_hidden_layers,
              l.hidden_size, l.num_attention_heads, l.use_mla ? "MLA" : "MHA", l.vocab_size);
  if (l.n_routed_experts > 0)
    std::printf("moe: %d routed experts (top-%d, %s/%s), %d shared, first %d layer(s) dense\n",
                l.n_routed_experts, l.num_experts_per_tok, l.scoring_func.c_str(),
                l.topk_method.c_str(), l.n_shared_experts, l.first_k_dense_replace);
  return 0;
}

}  // namespace dsvl2::tools
