// Peak multiply-add rates per instruction set (kernels/microbench.h), as reported by
// `dsvl2 bench` under peak_gflops: f32 FMA (AVX2, AVX-512), AVX512-BF16 vdpbf16ps and
// AVX512-VNNI vpdpbusd, each on one thread and on all threads.
//
//   peak_flops_bench [--seconds S (default 0.5)] [--repeats N (default 5)] [--threads N]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/thread_pool.h"
#include "kernels/microbench.h"

int main(int argc, char** argv) {
  double seconds = 0.5;
  int repeats = 5, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::atof(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats"))
      repeats = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: peak_flops_bench [--seconds S] [--repeats N] [--threads N]\n");
      return 2;
    }
  }
  if (!(seconds > 0) || repeats < 1 || threads < 0) {
    std::fprintf(stderr, "peak_flops_bench: --seconds > 0, --repeats >= 1, --threads >= 0\n");
    return 2;
  }
  if (threads > 0) dsvl2::ThreadPool::SetGlobalThreads(threads);
  const auto peaks = dsvl2::kernels::microbench::MeasurePeaks(seconds, repeats);
  if (peaks.empty()) std::printf("no SIMD peak kernels for this CPU (needs AVX2+FMA or AVX-512)\n");
  for (const auto& p : peaks)
    std::printf("%-18s %10.1f %s on 1 thread, %10.1f on %d threads\n", p.name.c_str(), p.one_thread,
                p.unit.c_str(), p.all_threads, p.threads);
  return 0;
}
