// Single-threaded encode throughput of the DeepSeek-V3 tokenizer on a few MB of mixed text
// (English, code, CJK, digits, emoji: the texts of the tokenizer fixture, repeated).
//
//   tokenizer_bench [--tokenizer FILE] [--corpus FIXTURE.json] [--mb N] [--iters N]
//
// Defaults locate third_party/downloads/deepseek_v3_tokenizer.json (run scripts/setup.sh) and
// tests/data/fixtures/tokenizer/deepseek_v3_plain.json under the source tree.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "io/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer_path = DSVL2_SOURCE_DIR "/third_party/downloads/deepseek_v3_tokenizer.json";
  std::string corpus_path = DSVL2_SOURCE_DIR "/tests/data/fixtures/tokenizer/deepseek_v3_plain.json";
  double target_mb = 4;
  int iters = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokenizer")) tokenizer_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--corpus")) corpus_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--mb")) target_mb = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--iters")) iters = std::atoi(argv[i + 1]);
  }

  const auto t0 = std::chrono::steady_clock::now();
  auto tok = dsvl2::Tokenizer::FromFile(tokenizer_path);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n(run scripts/setup.sh to fetch the tokenizer)\n",
                 tok.status().message().c_str());
    return 1;
  }
  const auto t1 = std::chrono::steady_clock::now();
  std::printf("load: %.3f s (vocab %d)\n", Seconds(t0, t1), (*tok)->vocab_size());

  auto corpus = dsvl2::ReadFileToString(corpus_path);
  if (!corpus.ok()) {
    std::fprintf(stderr, "%s\n", corpus.status().message().c_str());
    return 1;
  }
  const nlohmann::json fx = nlohmann::json::parse(*corpus, nullptr, false);
  if (fx.is_discarded() || !fx.contains("cases")) {
    std::fprintf(stderr, "%s: no \"cases\"\n", corpus_path.c_str());
    return 1;
  }
  std::string unit;
  for (const auto& c : fx["cases"]) {
    unit += c["text"].get<std::string>();
    unit += '\n';
  }
  // Build the text by repetition; each copy gets a different number so not every piece is a
  // cache hit.
  std::string text;
  const size_t target = static_cast<size_t>(target_mb * 1e6);
  for (int rep = 0; text.size() < target; ++rep) {
    text += unit;
    text += "Section " + std::to_string(rep * 7919 % 100003) + ".\n";
  }
  const double mb = static_cast<double>(text.size()) / 1e6;

  size_t tokens = 0;
  double best = 1e30, total = 0;
  for (int it = 0; it < iters; ++it) {
    const auto a = std::chrono::steady_clock::now();
    tokens = (*tok)->Encode(text).size();
    const auto b = std::chrono::steady_clock::now();
    const double s = Seconds(a, b);
    best = std::min(best, s);
    total += s;
    std::printf("iter %d: %.3f s  %.1f MB/s%s\n", it, s, mb / s, it == 0 ? "  (cold word cache)" : "");
  }
  std::printf("text: %.2f MB, %zu tokens (%.2f bytes/token)\n", mb, tokens,
              static_cast<double>(text.size()) / static_cast<double>(tokens));
  std::printf("encode: best %.1f MB/s, mean %.1f MB/s (single thread)\n", mb / best,
              mb * iters / total);
  return 0;
}
