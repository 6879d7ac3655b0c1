// Matrix-product benchmark (standalone, not a test): measured peak multiply-add rate per ISA, the
// GEMM rate on the SigLIP / LM-prefill shapes, the decode matvec rate against a measured
// streaming-read bandwidth. Weights bf16 ([n, k], as in the checkpoint), activations f32.
//   ninja -C build gemm_bench && ./build/bench/gemm_bench [--quick] [--decode] [--threads N]
//     [--matmul-precision high|medium]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace {
using namespace dsvl2;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

// Best of `reps` timings of fn (after one warm-up call).
template <typename F>
double BestTime(int reps, F fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    fn();
    best = std::min(best, Seconds(t0));
  }
  return best;
}

// Multiply-add-only loops in assembly: 12 independent accumulator registers (enough to cover
// latency x throughput), operands zero so no denormal stalls. Returns the flops done.
constexpr int64_t kPeakIters = 400'000;

double PeakAvx512(int64_t iters) {
  int64_t n = iters;
  __asm__ volatile(
      "vpxor %%xmm0, %%xmm0, %%xmm0\n"
      "vpxor %%xmm1, %%xmm1, %%xmm1\n"
      "vpxor %%xmm2, %%xmm2, %%xmm2\n"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n"
      "vpxor %%xmm4, %%xmm4, %%xmm4\n"
      "vpxor %%xmm5, %%xmm5, %%xmm5\n"
      "vpxor %%xmm6, %%xmm6, %%xmm6\n"
      "vpxor %%xmm7, %%xmm7, %%xmm7\n"
      "vpxor %%xmm8, %%xmm8, %%xmm8\n"
      "vpxor %%xmm9, %%xmm9, %%xmm9\n"
      "vpxor %%xmm10, %%xmm10, %%xmm10\n"
      "vpxor %%xmm11, %%xmm11, %%xmm11\n"
      "vpxor %%xmm12, %%xmm12, %%xmm12\n"
      "vpxor %%xmm13, %%xmm13, %%xmm13\n"
      "vpxor %%xmm14, %%xmm14, %%xmm14\n"
      "vpxor %%xmm15, %%xmm15, %%xmm15\n"
      "1:\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm0\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm1\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm2\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm3\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm4\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm5\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm6\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm7\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm8\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm9\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm10\n"
      "vfmadd231ps %%zmm14, %%zmm15, %%zmm11\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
  return static_cast<double>(iters) * 12 * 16 * 2;  // flops
}

double PeakAvx2(int64_t iters) {
  int64_t n = iters;
  __asm__ volatile(
      "vpxor %%xmm0, %%xmm0, %%xmm0\n"
      "vpxor %%xmm1, %%xmm1, %%xmm1\n"
      "vpxor %%xmm2, %%xmm2, %%xmm2\n"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n"
      "vpxor %%xmm4, %%xmm4, %%xmm4\n"
      "vpxor %%xmm5, %%xmm5, %%xmm5\n"
      "vpxor %%xmm6, %%xmm6, %%xmm6\n"
      "vpxor %%xmm7, %%xmm7, %%xmm7\n"
      "vpxor %%xmm8, %%xmm8, %%xmm8\n"
      "vpxor %%xmm9, %%xmm9, %%xmm9\n"
      "vpxor %%xmm10, %%xmm10, %%xmm10\n"
      "vpxor %%xmm11, %%xmm11, %%xmm11\n"
      "vpxor %%xmm12, %%xmm12, %%xmm12\n"
      "vpxor %%xmm13, %%xmm13, %%xmm13\n"
      "vpxor %%xmm14, %%xmm14, %%xmm14\n"
      "vpxor %%xmm15, %%xmm15, %%xmm15\n"
      "1:\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm0\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm1\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm3\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm4\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm5\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm6\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm7\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm9\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm10\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm11\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
  return static_cast<double>(iters) * 12 * 8 * 2;  // flops
}

double PeakBf16(int64_t iters) {
  int64_t n = iters;
  __asm__ volatile(
      "vpxor %%xmm0, %%xmm0, %%xmm0\n"
      "vpxor %%xmm1, %%xmm1, %%xmm1\n"
      "vpxor %%xmm2, %%xmm2, %%xmm2\n"
      "vpxor %%xmm3, %%xmm3, %%xmm3\n"
      "vpxor %%xmm4, %%xmm4, %%xmm4\n"
      "vpxor %%xmm5, %%xmm5, %%xmm5\n"
      "vpxor %%xmm6, %%xmm6, %%xmm6\n"
      "vpxor %%xmm7, %%xmm7, %%xmm7\n"
      "vpxor %%xmm8, %%xmm8, %%xmm8\n"
      "vpxor %%xmm9, %%xmm9, %%xmm9\n"
      "vpxor %%xmm10, %%xmm10, %%xmm10\n"
      "vpxor %%xmm11, %%xmm11, %%xmm11\n"
      "vpxor %%xmm12, %%xmm12, %%xmm12\n"
      "vpxor %%xmm13, %%xmm13, %%xmm13\n"
      "vpxor %%xmm14, %%xmm14, %%xmm14\n"
      "vpxor %%xmm15, %%xmm15, %%xmm15\n"
      "1:\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm0\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm1\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm2\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm3\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm4\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm5\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm6\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm7\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm8\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm9\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm10\n"
      "vdpbf16ps %%zmm14, %%zmm15, %%zmm11\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
  return static_cast<double>(iters) * 12 * 32 * 2;  // flops
}

// GFLOP/s of fn on `threads` threads (each runs fn independently; flops summed), best of many
// short runs (the same best-of method as the GEMM timings, so that a busy machine biases both
// the same way).
double PeakRate(double (*fn)(int64_t), int threads, int64_t iters) {
  ThreadPool pool(threads);
  std::vector<double> per(static_cast<size_t>(threads));
  double best = 0;
  for (int rep = 0; rep < 30; ++rep) {
    auto t0 = Clock::now();
    pool.ParallelFor(threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) per[static_cast<size_t>(i)] = fn(iters);
    });
    const double s = Seconds(t0);
    double flops = 0;
    for (double f : per) flops += f;
    best = std::max(best, flops / s * 1e-9);
  }
  return best;
}

__attribute__((target("avx2"))) int ReadChunk(const uint8_t* p, const uint8_t* end) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
  for (; p < end; p += 64) {
    acc0 = _mm256_xor_si256(acc0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    acc1 = _mm256_xor_si256(acc1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32)));
  }
  return _mm256_extract_epi32(_mm256_xor_si256(acc0, acc1), 0);
}

// Streaming read bandwidth (GB/s) over a buffer of `bytes`, on the global pool.
double ReadBandwidth(size_t bytes, int reps) {
  std::vector<uint8_t> buf(bytes, 1);
  const int64_t chunks = static_cast<int64_t>(bytes / 4096);
  std::vector<double> sink(64);
  double t = BestTime(reps, [&] {
    ThreadPool::Global().ParallelFor(chunks, 256, [&](int64_t b, int64_t e) {
      sink[static_cast<size_t>(b % 64)] = ReadChunk(buf.data() + b * 4096, buf.data() + e * 4096);
    });
  });
  return static_cast<double>(bytes) / t * 1e-9;
}

struct BenchShape {
  const char* name;
  int64_t m, k, n;
};

struct Bf16Weights {
  std::vector<uint16_t> data;
  TensorView view;
};

Bf16Weights MakeWeights(int64_t n, int64_t k) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  Bf16Weights w;
  w.data.resize(static_cast<size_t>(n * k));
  for (auto& v : w.data) v = F32ToBf16(nd(rng));
  w.view = {DType::kBF16, dsvl2::Shape{n, k}, w.data.data()};
  return w;
}

// The decode matvec on cold weights, as decode reads them: copies of each shape cycled through
// (>= 512 MB in all, past any cache), one sweep over all copies per timing, the tables' sweeps
// alternated round by round (this VM's bandwidth drifts by 2x between seconds, so only rounds
// taken side by side compare). Median and best GB/s of weights per table over the rounds.
void DecodeCold(int reps) {
  std::printf("\n== decode, cold weights (>= 512 MB of copies per shape, tables alternated) ==\n");
  const BenchShape mv[] = {{"expert up 896x1280", 1, 1280, 896}, {"expert down 1280x896", 1, 896, 1280},
                           {"lm_head 129280x1280", 1, 1280, 129280}};
  std::vector<const kernels::KernelTable*> tables;
  for (const kernels::KernelTable* t : kernels::AllSupported())
    if (t->isa != kernels::Isa::kRef && t->isa != kernels::Isa::kGeneric) tables.push_back(t);
  for (const BenchShape& s : mv) {
    const double bytes = 2.0 * s.n * s.k;
    const int copies = static_cast<int>(std::max(1.0, std::ceil(512e6 / bytes)));
    std::vector<Bf16Weights> ws;
    for (int c = 0; c < copies; ++c) ws.push_back(MakeWeights(s.n, s.k));
    std::vector<float> x(static_cast<size_t>(s.k), 0.5f), y(static_cast<size_t>(s.n));
    std::vector<std::vector<double>> gbs(tables.size());
    const int rounds = std::max(3, reps * 2);
    for (int r = 0; r < rounds; ++r)
      for (size_t ti = 0; ti < tables.size(); ++ti) {
        const auto t0 = Clock::now();
        for (const Bf16Weights& w : ws) tables[ti]->matmul(x.data(), 1, s.k, w.view, nullptr, y.data());
        gbs[ti].push_back(bytes * copies / Seconds(t0) * 1e-9);
      }
    std::printf("%-24s", s.name);
    for (size_t ti = 0; ti < tables.size(); ++ti) {
      std::vector<double> v = gbs[ti];
      std::sort(v.begin(), v.end());
      std::printf("  %s median %5.1f best %5.1f GB/s", kernels::IsaName(tables[ti]->isa), v[v.size() / 2],
                  v.back());
    }
    std::printf("\n");
  }
}

int Decode(int reps) {
  std::printf("\n== decode: m=1 matvec, bf16 weights (GB/s of weights read) ==\n");
  const double bw = ReadBandwidth(size_t{1} << 30, reps);
  std::printf("streaming read bandwidth, 1 GiB, %d threads: %.1f GB/s\n", ThreadPool::Global().num_threads(), bw);
  const BenchShape mv[] = {{"attn q 1280x1280", 1, 1280, 1280}, {"dense up 6848x1280", 1, 1280, 6848},
                      {"dense down 1280x6848", 1, 6848, 1280}, {"expert up 896x1280", 1, 1280, 896},
                      {"lm_head 129280x1280", 1, 1280, 129280}};
  for (const BenchShape& s : mv) {
    Bf16Weights w = MakeWeights(s.n, s.k);
    std::vector<float> x(static_cast<size_t>(s.k), 0.5f), y(static_cast<size_t>(s.n));
    const double bytes = 2.0 * s.n * s.k;
    std::printf("%-24s", s.name);
    for (const kernels::KernelTable* t : kernels::AllSupported()) {
      if (t->isa == kernels::Isa::kRef || t->isa == kernels::Isa::kGeneric) continue;
      const double sec = BestTime(reps * 4, [&] { t->matmul(x.data(), 1, s.k, w.view, nullptr, y.data()); });
      std::printf("  %s %6.1f GB/s (%3.0f%% of read bw)", kernels::IsaName(t->isa), bytes / sec * 1e-9,
                  100 * bytes / sec * 1e-9 / bw);
    }
    std::printf("\n");
  }
  DecodeCold(reps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, decode_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--decode") == 0) decode_only = true;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) ThreadPool::SetGlobalThreads(std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--matmul-precision") == 0 && i + 1 < argc) {
      kernels::MatMulPrecision p;
      if (!kernels::ParseMatMulPrecision(argv[++i], &p)) {
        std::fprintf(stderr, "--matmul-precision: high or medium\n");
        return 2;
      }
      kernels::SetMatMulPrecision(p);
    }
  }
  const int reps = quick ? 2 : 5;
  const int threads = ThreadPool::Global().num_threads();
  if (decode_only) return Decode(reps);
  std::printf("threads: %d\n\n== peak multiply-add rate (FMA-only loop, GFLOP/s) ==\n", threads);
  const int64_t iters = kPeakIters;
  double peak_best = 0;
  struct PeakFn { const char* name; double (*fn)(int64_t); bool ok; };
  const PeakFn peaks[] = {
      {"avx2 f32 fma", PeakAvx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
      {"avx512 f32 fma", PeakAvx512, __builtin_cpu_supports("avx512f") != 0},
      {"avx512 bf16 dpbf16ps", PeakBf16, __builtin_cpu_supports("avx512bf16") != 0},
  };
  double peak_f32[3] = {0, 0, 0};
  for (int p = 0; p < 3; ++p) {
    if (!peaks[p].ok) continue;
    double r1 = 0, r2 = 0;
    r1 = PeakRate(peaks[p].fn, 1, iters);
    r2 = PeakRate(peaks[p].fn, threads, iters);
    std::printf("%-22s 1 thread %7.1f   %d threads %7.1f\n", peaks[p].name, r1, threads, r2);
    // Cores are independent: a lower 2-thread figure means the other core was busy (shared host).
    if (p < 2) peak_best = std::max({peak_best, r2, threads * r1});
    peak_f32[p] = r2;
  }
  std::printf("f32 peak used for fractions: %.1f GFLOP/s (max of the %d-thread rate and %d x the "
              "1-thread rate)\n", peak_best, threads, threads);

  const bool medium = kernels::GetMatMulPrecision() == kernels::MatMulPrecision::kMedium;
  if (medium)
    std::printf("--matmul-precision medium: the avx512 table's rates (bf16 activations, vdpbf16ps) are\n"
                "given as a fraction of the bf16 dot-product peak, %.1f GFLOP/s\n",
                peak_f32[2]);
  std::printf("\n== GEMM, bf16 weights, f32 activations, matmul precision %s (best of %d) ==\n",
              kernels::MatMulPrecisionName(kernels::GetMatMulPrecision()), reps);
  const BenchShape shapes[] = {
      {"siglip qkv", 729, 1152, 3456},  {"siglip proj", 729, 1152, 1152},
      {"siglip fc1", 729, 1152, 4304},  {"siglip fc2", 729, 4304, 1152},
      {"prefill q (m=128)", 128, 1280, 1280}, {"prefill q (m=512)", 512, 1280, 1280},
      {"prefill q (m=1024)", 1024, 1280, 1280}, {"prefill dense up (m=512)", 512, 1280, 6848},
      {"prefill dense down (m=512)", 512, 6848, 1280},
      {"prefill dense down (m=2048)", 2048, 6848, 1280}, {"prefill shared up (m=128)", 128, 1280, 1792},
      {"expert up (m=4)", 4, 1280, 896},     {"expert up (m=8)", 8, 1280, 896},
      {"expert up (m=12)", 12, 1280, 896},   {"expert up (m=16)", 16, 1280, 896},   {"expert up (m=64)", 64, 1280, 896},
      // The shapes of one SigLIP attention head (f32 operands in the model; bf16 here).
      {"siglip attn q.k^T (head)", 729, 72, 729}, {"siglip attn p.v (head)", 729, 729, 72},
  };
  for (const BenchShape& s : shapes) {
    Bf16Weights w = MakeWeights(s.n, s.k);
    std::vector<float> x(static_cast<size_t>(s.m * s.k), 0.5f), y(static_cast<size_t>(s.m * s.n));
    const double flops = 2.0 * s.m * s.n * s.k;
    std::printf("%-28s m=%-5lld k=%-5lld n=%-5lld", s.name, (long long)s.m, (long long)s.k, (long long)s.n);
    for (const kernels::KernelTable* t : kernels::AllSupported()) {
      if (t->isa == kernels::Isa::kRef) continue;
      if (t->isa == kernels::Isa::kGeneric && !quick) continue;
      const double sec = BestTime(reps, [&] { t->matmul(x.data(), s.m, s.k, w.view, nullptr, y.data()); });
      const double gf = flops / sec * 1e-9;
      const double peak = medium && t->isa == kernels::Isa::kAvx512 && kernels::MediumPrecisionChangesResults(*t) && peak_f32[2] > 0
                              ? peak_f32[2] : peak_best;
      std::printf("  %s %6.1f GF/s (%3.0f%%)", kernels::IsaName(t->isa), gf, 100 * gf / peak);
    }
    std::printf("\n");
  }

  Decode(reps);
  return 0;
}
