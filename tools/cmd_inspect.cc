// dsvl2 inspect --model DIR: parse config.json, open the checkpoint, list tensors.
#include <cstdio>
#include <cstring>
#include <string>

#include "io/config.h"
#include "io/safetensors.h"

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
  std::printf("%zu tensors\n", (*store)->size());
  return 0;
}

}  // namespace dsvl2::tools
