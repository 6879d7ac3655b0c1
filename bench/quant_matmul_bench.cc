// Decode-shaped matrix products (m = 1 by default) with bf16 / q8_0 / q4_0 weights of the
// DeepSeek-VL2-Tiny shapes; prints the best and median time over repeats and the weight bytes
// streamed per second, and the multiply-adds (2mnk ops) per second, to compare with the VNNI peak
// of peak_flops_bench when m is large enough to be compute bound. Usage: quant_matmul_bench [m] [repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "base/half.h"
#include "base/quant.h"
#include "kernels/kernels.h"

using namespace dsvl2;

int main(int argc, char** argv) {
  const int64_t m = argc > 1 ? std::atoll(argv[1]) : 1;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 200;
  struct Shape2 { const char* what; int64_t n, k; };
  const Shape2 shapes[] = {{"expert gate/up 896x1280", 896, 1280}, {"expert down 1280x896", 1280, 896},
                           {"attn q 1280x1280", 1280, 1280}, {"lm_head 129280x1280", 129280, 1280}};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::printf("isa %s, m=%lld\n", kernels::IsaName(kernels::Active().isa), static_cast<long long>(m));
  for (const Shape2& s : shapes) {
    std::vector<float> wf(static_cast<size_t>(s.n * s.k)), x(static_cast<size_t>(m * s.k)), y(static_cast<size_t>(m * s.n));
    for (float& v : wf) v = nd(rng);
    for (float& v : x) v = nd(rng) * 50;
    double base = 0;
    for (DType t : {DType::kBF16, DType::kQ8_0, DType::kQ4_0}) {
      std::vector<uint8_t> buf(StorageBytes(t, {s.n, s.k}));
      if (t == DType::kBF16) {
        for (int64_t i = 0; i < s.n * s.k; ++i)
          reinterpret_cast<uint16_t*>(buf.data())[i] = F32ToBf16(wf[static_cast<size_t>(i)]);
      } else {
        QuantizeMatrix(t, wf.data(), s.n, s.k, buf.data());
      }
      TensorView w{t, {s.n, s.k}, buf.data()};
      const int r = s.n > 100000 ? std::max(5, reps / 20) : reps;
      std::vector<double> times;
      for (int i = 0; i < r; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        kernels::MatMul(x.data(), m, s.k, w, nullptr, y.data());
        times.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(times.begin(), times.end());
      const double best = times.front(), med = times[times.size() / 2];
      if (t == DType::kBF16) base = med;
      const double gops = 2.0 * static_cast<double>(m * s.n * s.k) / med / 1e3;
      std::printf("%-26s %-5s best %9.1f us  median %9.1f us  %6.1f GB/s %6.1f GOP/s (median)  speedup vs bf16 %.2fx\n",
                  s.what, t == DType::kBF16 ? "bf16" : QuantFormatName(t), best, med, buf.size() / med / 1e3, gops,
                  base / med);
    }
  }
  return 0;
}
