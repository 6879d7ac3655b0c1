// The MoE expert pieces as MoeLayer runs them over every routed expert of vl2-tiny's 11 MoE
// layers (64 x 11 experts of 1280 x 896, bf16: 4.8 GB, so the weights come from memory, as in a
// short prefill where each expert sees a few tokens), or over 2 experts repeated (in cache):
// effective weight bandwidth and multiply-add rate per row count. Below --gemm-from rows as
// RunBatched does (SwiGluCols over 16-column units, then MatMulCols of the down projection), from
// there as SwiGlu::Forward (SwiGlu and MatMul per expert); by default the rows MoeLayer::Forward
// switches at (16; 12 for bf16 at medium on AVX-512-BF16).
//   ./build/bench/moe_experts_bench [--rows 1,4,8,12] [--matmul-precision high|medium] [--hot] [--gemm-from N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

using namespace dsvl2;

int main(int argc, char** argv) {
  std::vector<int64_t> rows_list = {1, 4, 8, 12};
  bool hot = false;
  // From this many rows an expert runs alone as SwiGlu::Forward (as MoeLayer::Forward decides;
  // 0: that rule).
  int64_t gemm_from = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rows") == 0 && i + 1 < argc) {
      rows_list.clear();
      for (const char* p = argv[++i]; *p;) {
        rows_list.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
        if (*p == ',') ++p;
      }
    } else if (std::strcmp(argv[i], "--matmul-precision") == 0 && i + 1 < argc) {
      kernels::MatMulPrecision p;
      if (!kernels::ParseMatMulPrecision(argv[++i], &p)) {
        std::fprintf(stderr, "--matmul-precision: high or medium\n");
        return 2;
      }
      kernels::SetMatMulPrecision(p);
    } else if (std::strcmp(argv[i], "--gemm-from") == 0 && i + 1 < argc) {
      gemm_from = std::strtoll(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--hot") == 0) {
      hot = true;
    } else {
      std::fprintf(stderr, "usage: moe_experts_bench [--rows 1,4,8,12] [--matmul-precision high|medium] [--hot] [--gemm-from N]\n");
      return 2;
    }
  }
  if (gemm_from == 0) gemm_from = std::min<int64_t>(16, kernels::GemmMinRows(kernels::Active(), DType::kBF16));
  const int64_t d = 1280, inter = 896, experts = hot ? 2 : 64 * 11, passes = hot ? 200 : 1;
  std::vector<uint16_t> w(static_cast<size_t>(experts * 3 * d * inter));
  for (size_t i = 0; i < w.size(); ++i) w[i] = F32ToBf16(static_cast<float>((i * 2654435761u) >> 20 & 1023) / 1024.0f - 0.5f);
  std::printf("%s weights, %lld experts x %lld passes, %d threads, table %s, precision %s\n",
              hot ? "cached" : "cold", static_cast<long long>(experts), static_cast<long long>(passes),
              ThreadPool::Global().num_threads(), kernels::IsaName(kernels::Active().isa),
              kernels::MatMulPrecisionName(kernels::GetMatMulPrecision()));
  for (int64_t rows : rows_list) {
    std::vector<float> x(static_cast<size_t>(rows * d), 0.1f), h(static_cast<size_t>(rows * inter)), y(static_cast<size_t>(rows * d));
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t pass = 0; pass < passes; ++pass)
        for (int64_t e = 0; e < experts; ++e) {
          const uint16_t* base = w.data() + e * 3 * d * inter;
          const TensorView g{DType::kBF16, {inter, d}, base}, u{DType::kBF16, {inter, d}, base + d * inter};
          const TensorView dn{DType::kBF16, {d, inter}, base + 2 * d * inter};
          if (rows >= gemm_from) {  // an expert with many tokens: SwiGlu::Forward
            kernels::SwiGlu(x.data(), rows, d, g, u, h.data());
            kernels::MatMul(h.data(), rows, inter, dn, nullptr, y.data());
            continue;
          }
          ThreadPool::Global().ParallelFor(inter / 16, 1, [&](int64_t b0, int64_t b1) {
            kernels::SwiGluCols(x.data(), rows, d, g, u, b0 * 16, b1 * 16, h.data());
          });
          ThreadPool::Global().ParallelFor(d / 16, 1, [&](int64_t b0, int64_t b1) {
            kernels::MatMulCols(h.data(), rows, inter, dn, b0 * 16, b1 * 16, y.data());
          });
        }
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double bytes = static_cast<double>(w.size()) * 2 * passes;
    std::printf("rows %3lld  %8.1f ms  %6.1f GB/s of weights  %6.0f GFLOP/s\n", static_cast<long long>(rows), best * 1e3,
                bytes / best * 1e-9, bytes * rows / best * 1e-9);
  }
  return 0;
}
