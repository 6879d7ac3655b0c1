// AttendMany on the shapes the model runs it on, per kernel table and precision (best of N):
// SigLIP's 16 heads of one tile (729 queries and keys, head size 72, rows of the fused qkv
// output), an MHA prefill head (causal), and MLA prefill (all heads of the new tokens as one
// query matrix against the shared latent keys, dk 576, dv 512, causal with a row group).
//   ninja -C build attention_bench && ./build/bench/attention_bench [--reps N]
//     [--matmul-precision high|medium]   (DSVL2_ISA=... picks the kernel table)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/kernels.h"

using namespace dsvl2::kernels;

namespace {

template <typename F>
double Best(int reps, F fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

std::vector<float> Random(size_t n, float scale, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--matmul-precision") == 0 && i + 1 < argc) {
      MatMulPrecision p;
      if (!ParseMatMulPrecision(argv[++i], &p)) {
        std::fprintf(stderr, "attention_bench: --matmul-precision high|medium\n");
        return 2;
      }
      SetMatMulPrecision(p);
    } else {
      std::fprintf(stderr, "usage: attention_bench [--reps N] [--matmul-precision high|medium]\n");
      return 2;
    }
  }
  std::printf("table %s, matmul precision %s, best of %d\n", IsaName(Active().isa),
              MatMulPrecisionName(GetMatMulPrecision()), reps);
  {  // SigLIP: 16 heads of 72 over one tile's 729 rows of q | k | v.
    const int64_t n = 729, w = 1152;
    const int hd = 72;
    const std::vector<float> qkv = Random(static_cast<size_t>(n * 3 * w), 1.0f, 1);
    std::vector<float> out(static_cast<size_t>(n * w));
    const KvSpan span{qkv.data(), n};
    const double t = Best(reps, [&] {
      for (int h = 0; h < 16; ++h)
        AttendMany(qkv.data() + h * hd, 3 * w, n, hd, &span, 1, 3 * w, w + h * hd, 2 * w + h * hd, hd, n, -1, 1,
                   0.117851f, out.data() + h * hd, w, AttendProducts::kMatMulPrecision);
    });
    std::printf("siglip 16 heads (729 x 729 x 72)      %8.2f ms  %7.1f GFLOP/s\n", t * 1e3,
                16 * 4.0 * n * n * hd / t / 1e9);
  }
  {  // MHA prefill: one head of 128 over 1024 causal tokens (f32 products, as the LM runs it).
    const int64_t n = 1024;
    const int hd = 128;
    const std::vector<float> q = Random(static_cast<size_t>(n * hd), 0.1f, 2), kv = Random(static_cast<size_t>(n * 2 * hd), 1.0f, 3);
    std::vector<float> out(static_cast<size_t>(n * hd));
    const KvSpan span{kv.data(), n};
    const double t = Best(reps, [&] {
      AttendMany(q.data(), hd, n, hd, &span, 1, 2 * hd, 0, hd, hd, n, 0, 1, 0.0884f, out.data(), hd);
    });
    std::printf("mha prefill head (1024 causal x 128)  %8.2f ms  %7.1f GFLOP/s\n", t * 1e3,
                4.0 * n * n / 2 * hd / t / 1e9);
  }
  {  // MLA prefill: 256 tokens x 16 heads against 256 latent keys (dk 576, dv 512), causal.
    const int64_t tokens = 256, heads = 16, m = tokens * heads;
    const int dk = 576, dv = 512;
    const std::vector<float> q = Random(static_cast<size_t>(m * dk), 0.05f, 4), kv = Random(static_cast<size_t>(tokens * dk), 1.0f, 5);
    std::vector<float> out(static_cast<size_t>(m * dv));
    const KvSpan span{kv.data(), tokens};
    const double t = Best(reps, [&] {
      AttendMany(q.data(), dk, m, dk, &span, 1, dk, 0, 0, dv, tokens, 0, heads, 0.0417f, out.data(), dv);
    });
    std::printf("mla prefill (256 tok x 16 heads, 576/512) %5.2f ms  %7.1f GFLOP/s\n", t * 1e3,
                2.0 * m * tokens / 2 * (dk + dv) / t / 1e9);
  }
  return 0;
}
