// The AVX-512 forms of a bf16-weight, f32-activation product side by side on the same shapes
// (standalone, not a test): the packed GEMM (gemm_avx512.cc), the dot-rows kernel
// (matmul_bf16_rows_f32_avx512.cc) and the transposed f32 kernel (gemm_bf16_f32_small_avx512.cc),
// and MatMulAvx512 (the routing) beside them. The forms are timed in alternation, round after round,
// and each reports its best round, so that a slow phase of a noisy machine hits all of them
// alike. Weights are cycled through `--copies` copies (default: enough for ~256 MB, i.e. read from
// memory; `--hot`: 1 copy, from cache).
//   ./build/bench/bf16_forms_bench [--shapes 32x1280x896,...] [--rounds 7] [--hot] [--copies N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"
#include "kernels/kernels.h"

namespace {
using namespace dsvl2;
using Clock = std::chrono::steady_clock;

struct ProductShape {
  int64_t m, k, n;
};

std::vector<ProductShape> ParseShapes(const char* s) {
  std::vector<ProductShape> out;
  while (*s) {
    ProductShape sh{};
    char* e;
    sh.m = std::strtoll(s, &e, 10);
    if (*e != 'x') break;
    sh.k = std::strtoll(e + 1, &e, 10);
    if (*e != 'x') break;
    sh.n = std::strtoll(e + 1, &e, 10);
    out.push_back(sh);
    s = *e == ',' ? e + 1 : e;
  }
  return out;
}

using Fn = void (*)(const float*, int64_t, int64_t, const TensorView&, const float*, float*);

}  // namespace

int main(int argc, char** argv) {
  std::vector<ProductShape> shapes = {{16, 1280, 896},  {24, 1280, 896}, {32, 1280, 896},
                               {48, 1280, 896},  {64, 1280, 896}, {96, 1280, 896},
                               {48, 896, 1280},  {128, 1280, 1280}, {256, 1280, 1280},
                               {512, 1280, 1280}, {729, 1152, 1152}};
  int rounds = 7;
  bool hot = false;
  int64_t copies = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--shapes") == 0 && i + 1 < argc) {
      shapes = ParseShapes(argv[++i]);
    } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--copies") == 0 && i + 1 < argc) {
      copies = std::atoll(argv[++i]);
    } else if (std::strcmp(argv[i], "--hot") == 0) {
      hot = true;
    } else {
      std::fprintf(stderr,
                   "usage: bf16_forms_bench [--shapes MxKxN,...] [--rounds R] [--hot] [--copies N]\n");
      return 2;
    }
  }
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw")) {
    std::printf("no AVX-512 on this CPU\n");
    return 0;
  }
  std::printf("threads %d, %s weights, best of %d alternated rounds, GFLOP/s\n",
              ThreadPool::Global().num_threads(), hot ? "cached" : "cold", rounds);
  std::printf("%-18s %10s %10s %10s %10s\n", "m x k x n", "gemm", "dot-rows",
              "transposed", "matmul");
  for (const ProductShape& s : shapes) {
    const int64_t per = s.n * s.k;
    const int64_t nc = hot ? 1 : copies > 0 ? copies : std::max<int64_t>(2, (int64_t{256} << 20) / (2 * per));
    std::vector<uint16_t> w(static_cast<size_t>(nc * per));
    for (size_t i = 0; i < w.size(); ++i)
      w[i] = F32ToBf16(static_cast<float>((i * 2654435761u) >> 20 & 1023) / 1024.0f - 0.5f);
    std::vector<float> x(static_cast<size_t>(s.m * s.k)), y(static_cast<size_t>(s.m * s.n));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) / 17.0f - 0.5f;
    struct Form {
      const char* name;
      Fn fn;
      bool applies;
      double best = 1e30;
    };
    Form forms[] = {
        {"gemm", &kernels::cpu::GemmAvx512, true},
        {"dot-rows", &kernels::cpu::MatMulBf16RowsF32Avx512, s.m >= 2},
        {"transposed", &kernels::cpu::GemmAvx512Bf16F32Small,
         kernels::cpu::F32SmallFits(s.m, s.k)},
        {"matmul", &kernels::cpu::MatMulAvx512, true},
    };
    // Enough products per round for ~50 ms of work at 200 GFLOP/s.
    const double flop = 2.0 * static_cast<double>(s.m * s.n * s.k);
    const int64_t reps = std::max<int64_t>(nc, static_cast<int64_t>(1e10 / flop));
    for (int r = 0; r <= rounds; ++r)
      for (Form& f : forms) {
        if (!f.applies) continue;
        const auto t0 = Clock::now();
        for (int64_t i = 0; i < reps; ++i) {
          const TensorView wv{DType::kBF16, dsvl2::Shape{s.n, s.k}, w.data() + (i % nc) * per};
          f.fn(x.data(), s.m, s.k, wv, nullptr, y.data());
        }
        const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
        if (r > 0) f.best = std::min(f.best, sec / static_cast<double>(reps));  // round 0: warm-up
      }
    char label[64];
    std::snprintf(label, sizeof(label), "%lldx%lldx%lld", static_cast<long long>(s.m),
                  static_cast<long long>(s.k), static_cast<long long>(s.n));
    std::printf("%-18s", label);
    for (Form& f : forms) {
      if (!f.applies) {
        std::printf(" %10s", "-");
        continue;
      }
      const double g = flop / f.best / 1e9;
      std::printf(" %10.1f", g);
    }
    std::printf("\n");
  }
  return 0;
}
