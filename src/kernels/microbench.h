// Machine-limit microbenchmarks: the peak multiply-add rate of each instruction set this CPU has
// (f32 FMA on AVX2 and AVX-512, AVX512-BF16 dot products, AVX512-VNNI int8 dot products, AMX bf16
// and int8 tile products) and the
// multi-threaded streaming read bandwidth of main memory. `dsvl2 bench` and bench/*_bench report
// them as the roofline the model kernels are compared with. The ISA-specific loops are in
// cpu/peak_avx2.cc and cpu/peak_avx512.cc; threads come from the global ThreadPool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dsvl2::kernels::microbench {

// One peak-rate loop: `run(iters)` executes iters iterations of an unrolled block of independent
// multiply-adds on the calling thread and returns the operations done (a multiply-add counts 2).
struct PeakKernel {
  const char* name;  // f32_fma_avx2 | f32_fma_avx512 | bf16_dot_avx512 | int8_vnni_avx512 | bf16_amx | int8_amx
  const char* unit;  // GFLOP/s, or GOP/s for int8
  double (*run)(int64_t iters);
};

// The kernels this build and CPU support, in the order above.
std::vector<PeakKernel> SupportedPeakKernels();

struct PeakResult {
  std::string name, unit;
  double one_thread = 0;   // G(FL)OP/s on one thread
  double all_threads = 0;  // G(FL)OP/s on every thread of the global pool together
  int threads = 0;         // threads in the all-threads figure
};

// Each figure is the best of `repeats` runs of about `seconds` each.
std::vector<PeakResult> MeasurePeaks(double seconds = 0.2, int repeats = 3);

// Streaming read bandwidth in GB/s (1e9 bytes per second): a `bytes` buffer (choose it much larger
// than the last-level cache) read with the widest SIMD loads this CPU has, split evenly over every
// thread of the global pool; best of `passes` timed passes after one untimed pass (which also
// makes the pages resident).
double MeasureReadBandwidth(size_t bytes = size_t{1} << 30, int passes = 5);

}  // namespace dsvl2::kernels::microbench
