// AVX2 microbenchmark loops: f32 FMA peak and streaming reads (see kernels/microbench.h).
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
