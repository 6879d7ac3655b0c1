// AVX2 microbenchmark loops: f32 FMA and int8 multiply-add peaks, streaming reads (see
// kernels/microbench.h).
#include <immintrin.h>

#include "kernels/cpu/peak.h"

namespace dsvl2::kernels::cpu {

double PeakF32FmaAvx2(int64_t iters) {
  // 12 independent accumulators cover FMA latency (4-5 cycles) × 2 pipes. acc = acc*b + c stays
  // near 1 (no denormals, no overflow).
  constexpr int kAcc = 12;
  __m256 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(j));
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  for (int64_t i = 0; i < iters; ++i) {
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm256_fmadd_ps(acc[j], b, c);
  }
  __m256 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm256_add_ps(s, acc[j]);
  volatile float sink = _mm256_cvtss_f32(s);
  (void)sink;
  return static_cast<double>(iters) * kAcc * 8 * 2;
}

double PeakInt8Avx2(int64_t iters) {
  // vpmaddubsw (32 u8·s8 products summed in pairs into 16 int16) + vpaddw: AVX2's int8
  // multiply-add without VNNI, as the q8/q4 kernels use it = 64 ops per pair; 12 independent
  // chains, each feeding its accumulator back as the u8 operand (values stay in 0..510). In
  // assembly: with intrinsics GCC spilled the chains to the stack.
  int64_t n = iters;
  if (n <= 0) return 0;
  __asm__ volatile(
      "vpcmpeqw %%ymm13, %%ymm13, %%ymm13\n"  // int16 -1
      "vpabsb %%ymm13, %%ymm12\n"             // int8 1
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
      "1:\n"
      "vpmaddubsw %%ymm12, %%ymm0, %%ymm0\n"
      "vpaddw %%ymm13, %%ymm0, %%ymm0\n"
      "vpmaddubsw %%ymm12, %%ymm1, %%ymm1\n"
      "vpaddw %%ymm13, %%ymm1, %%ymm1\n"
      "vpmaddubsw %%ymm12, %%ymm2, %%ymm2\n"
      "vpaddw %%ymm13, %%ymm2, %%ymm2\n"
      "vpmaddubsw %%ymm12, %%ymm3, %%ymm3\n"
      "vpaddw %%ymm13, %%ymm3, %%ymm3\n"
      "vpmaddubsw %%ymm12, %%ymm4, %%ymm4\n"
      "vpaddw %%ymm13, %%ymm4, %%ymm4\n"
      "vpmaddubsw %%ymm12, %%ymm5, %%ymm5\n"
      "vpaddw %%ymm13, %%ymm5, %%ymm5\n"
      "vpmaddubsw %%ymm12, %%ymm6, %%ymm6\n"
      "vpaddw %%ymm13, %%ymm6, %%ymm6\n"
      "vpmaddubsw %%ymm12, %%ymm7, %%ymm7\n"
      "vpaddw %%ymm13, %%ymm7, %%ymm7\n"
      "vpmaddubsw %%ymm12, %%ymm8, %%ymm8\n"
      "vpaddw %%ymm13, %%ymm8, %%ymm8\n"
      "vpmaddubsw %%ymm12, %%ymm9, %%ymm9\n"
      "vpaddw %%ymm13, %%ymm9, %%ymm9\n"
      "vpmaddubsw %%ymm12, %%ymm10, %%ymm10\n"
      "vpaddw %%ymm13, %%ymm10, %%ymm10\n"
      "vpmaddubsw %%ymm12, %%ymm11, %%ymm11\n"
      "vpaddw %%ymm13, %%ymm11, %%ymm11\n"
      "dec %0\n"
      "jnz 1b\n"
      "vzeroupper\n"
      : "+r"(n)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "cc");
  return static_cast<double>(iters) * 12 * 32 * 2;
}

uint64_t ReadAllAvx2(const void* p, size_t bytes) {
  const __m256i* v = static_cast<const __m256i*>(p);
  const size_t n = bytes / 32;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(v + i));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(v + i + 1));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(v + i + 2));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(v + i + 3));
    a4 = _mm256_xor_si256(a4, _mm256_load_si256(v + i + 4));
    a5 = _mm256_xor_si256(a5, _mm256_load_si256(v + i + 5));
    a6 = _mm256_xor_si256(a6, _mm256_load_si256(v + i + 6));
    a7 = _mm256_xor_si256(a7, _mm256_load_si256(v + i + 7));
  }
  __m256i s =
      _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)),
                       _mm256_xor_si256(_mm256_xor_si256(a4, a5), _mm256_xor_si256(a6, a7)));
  return static_cast<uint64_t>(_mm256_extract_epi64(s, 0) ^ _mm256_extract_epi64(s, 1) ^
                               _mm256_extract_epi64(s, 2) ^ _mm256_extract_epi64(s, 3));
}

}  // namespace dsvl2::kernels::cpu
