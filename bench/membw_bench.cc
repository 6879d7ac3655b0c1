// Multi-threaded streaming read bandwidth of main memory (kernels/microbench.h), as reported by
// `dsvl2 bench` as memory_bandwidth_gbs.
//
//   membw_bench [--mb N (default 1024)] [--passes N (default 10)] [--threads N (default: all)]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/thread_pool.h"
#include "kernels/microbench.h"

int main(int argc, char** argv) {
  size_t mb = 1024;
  int passes = 10, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--mb"))
      mb = static_cast<size_t>(std::atoll(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--passes"))
      passes = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: membw_bench [--mb N] [--passes N] [--threads N]\n");
      return 2;
    }
  }
  if (mb < 1 || passes < 1 || threads < 0) {
    std::fprintf(stderr, "membw_bench: --mb and --passes must be >= 1, --threads >= 0\n");
    return 2;
  }
  if (threads > 0) dsvl2::ThreadPool::SetGlobalThreads(threads);
  const int used = dsvl2::ThreadPool::Global().num_threads();
  const double gbs = dsvl2::kernels::microbench::MeasureReadBandwidth(mb << 20, passes);
  if (!(gbs > 0)) {
    std::fprintf(stderr, "membw_bench: could not allocate %zu MiB\n", mb);
    return 1;
  }
  std::printf("read bandwidth: %.2f GB/s (%zu MiB buffer, %d threads, best of %d passes)\n", gbs,
              mb, used, passes);
  return 0;
}
