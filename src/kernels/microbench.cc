#include "kernels/microbench.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/thread_pool.h"
#include "kernels/cpu/peak.h"
#include "kernels/cpu_features.h"

namespace dsvl2::kernels::microbench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool HasAvx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool HasAvx512() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}

// Iterations that take about `seconds` on one thread (doubling from a short run).
int64_t Calibrate(const PeakKernel& k, double seconds) {
  int64_t iters = 1 << 12;
  for (;;) {
    const auto t0 = Clock::now();
    k.run(iters);
    const double s = SecondsSince(t0);
    if (s > seconds / 8 || iters > (int64_t{1} << 40))
      return std::max<int64_t>(
          1, static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(s, 1e-9)));
    iters *= 2;
  }
}

uint64_t ReadAll(const void* p, size_t bytes) {
  if (HasAvx512()) return cpu::ReadAllAvx512(p, bytes);
  if (HasAvx2()) return cpu::ReadAllAvx2(p, bytes);
  const uint64_t* v = static_cast<const uint64_t*>(p);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i + 4 <= bytes / 8; i += 4) {
    a0 ^= v[i];
    a1 ^= v[i + 1];
    a2 ^= v[i + 2];
    a3 ^= v[i + 3];
  }
  return a0 ^ a1 ^ a2 ^ a3;
}

}  // namespace

std::vector<PeakKernel> SupportedPeakKernels() {
  std::vector<PeakKernel> out;
  if (HasAvx2()) {
    out.push_back({"f32_fma_avx2", "GFLOP/s", &cpu::PeakF32FmaAvx2});
    out.push_back({"int8_avx2", "GOP/s", &cpu::PeakInt8Avx2});
  }
  if (HasAvx512()) {
    out.push_back({"f32_fma_avx512", "GFLOP/s", &cpu::PeakF32FmaAvx512});
    if (__builtin_cpu_supports("avx512bf16"))
      out.push_back({"bf16_dot_avx512", "GFLOP/s", &cpu::PeakBf16DotAvx512});
    if (__builtin_cpu_supports("avx512vnni"))
      out.push_back({"int8_vnni_avx512", "GOP/s", &cpu::PeakInt8VnniAvx512});
    if (AmxBf16Usable()) out.push_back({"bf16_amx", "GFLOP/s", &cpu::PeakBf16Amx});
    if (AmxInt8Usable()) out.push_back({"int8_amx", "GOP/s", &cpu::PeakInt8Amx});
  }
  return out;
}

std::vector<PeakResult> MeasurePeaks(double seconds, int repeats) {
  ThreadPool& pool = ThreadPool::Global();
  const int threads = pool.num_threads();
  std::vector<PeakResult> out;
  for (const PeakKernel& k : SupportedPeakKernels()) {
    PeakResult r{k.name, k.unit, 0, 0, threads};
    const int64_t iters = Calibrate(k, seconds);
    for (int rep = 0; rep < std::max(1, repeats); ++rep) {
      auto t0 = Clock::now();
      double ops = k.run(iters);
      r.one_thread = std::max(r.one_thread, ops / SecondsSince(t0) / 1e9);
      // One part per thread, each running the same loop.
      std::vector<double> done(static_cast<size_t>(threads), 0.0);
      t0 = Clock::now();
      pool.ParallelFor(threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) done[static_cast<size_t>(i)] = k.run(iters);
      });
      const double s = SecondsSince(t0);
      double total = 0;
      for (double d : done) total += d;
      r.all_threads = std::max(r.all_threads, total / s / 1e9);
    }
    out.push_back(r);
  }
  return out;
}

double MeasureReadBandwidth(size_t bytes, int passes) {
  ThreadPool& pool = ThreadPool::Global();
  const int threads = pool.num_threads();
  // Each thread reads one contiguous, 4 KiB-aligned share.
  const size_t share = std::max<size_t>(4096, (bytes / static_cast<size_t>(threads)) / 4096 * 4096);
  const size_t total = share * static_cast<size_t>(threads);
  std::unique_ptr<uint8_t, decltype(&std::free)> buf(
      static_cast<uint8_t*>(std::aligned_alloc(4096, total)), &std::free);
  if (!buf) return 0.0;
  std::memset(buf.get(), 0x5a, total);
  std::vector<uint64_t> sums(static_cast<size_t>(threads), 0);
  double best = 0;
  for (int pass = 0; pass <= std::max(1, passes); ++pass) {
    const auto t0 = Clock::now();
    pool.ParallelFor(threads, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        sums[static_cast<size_t>(i)] ^= ReadAll(buf.get() + static_cast<size_t>(i) * share, share);
    });
    const double s = SecondsSince(t0);
    if (pass > 0) best = std::max(best, static_cast<double>(total) / s / 1e9);
  }
  volatile uint64_t sink = 0;
  for (uint64_t v : sums) sink = sink ^ v;
  (void)sink;
  return best;
}

}  // namespace dsvl2::kernels::microbench
