// AVX-512 microbenchmark loops: f32 FMA, BF16 dot product (vdpbf16ps), VNNI int8 dot product
// (vpdpbusd) peaks and streaming reads (see kernels/microbench.h).
#include <immintrin.h>

#include "kernels/cpu/peak.h"

namespace dsvl2::kernels::cpu {
namespace {
// Independent accumulator chains: enough to cover latency (4-6 cycles) × 2 pipes.
constexpr int kAcc = 12;

// Horizontal sums through memory (GCC 12 warns falsely inside the _mm512_reduce_* intrinsics).
float Sum(__m512 v) {
  alignas(64) float f[16];
  _mm512_store_ps(f, v);
  float s = 0;
  for (float x : f) s += x;
  return s;
}
int64_t Sum(__m512i v) {
  alignas(64) int64_t q[8];
  _mm512_store_si512(q, v);
  int64_t s = 0;
  for (int64_t x : q) s += x;
  return s;
}
}  // namespace

double PeakF32FmaAvx512(int64_t iters) {
  __m512 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(j));
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  for (int64_t i = 0; i < iters; ++i) {
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_fmadd_ps(acc[j], b, c);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_ps(s, acc[j]);
  volatile float sink = Sum(s);
  (void)sink;
  return static_cast<double>(iters) * kAcc * 16 * 2;
}

double PeakBf16DotAvx512(int64_t iters) {
  // vdpbf16ps: 16 lanes × 2 bf16 products accumulated = 64 flops per instruction. The operands
  // are small so the accumulators stay finite.
  __m512 acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_setzero_ps();
  const __m512 fa = _mm512_set1_ps(1e-3f), fb = _mm512_set1_ps(-1e-3f);
  const __m512bh a = _mm512_cvtne2ps_pbh(fa, fa), b = _mm512_cvtne2ps_pbh(fb, fa);
  for (int64_t i = 0; i < iters; ++i) {
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_ps(s, acc[j]);
  volatile float sink = Sum(s);
  (void)sink;
  return static_cast<double>(iters) * kAcc * 16 * 2 * 2;
}

double PeakInt8VnniAvx512(int64_t iters) {
  // vpdpbusd: 16 lanes × 4 u8·s8 products accumulated into int32 = 128 ops per instruction.
  __m512i acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_epi32(j);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (int64_t i = 0; i < iters; ++i) {
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  }
  __m512i s = acc[0];
  for (int j = 1; j < kAcc; ++j) s = _mm512_add_epi32(s, acc[j]);
  volatile int64_t sink = Sum(s);
  (void)sink;
  return static_cast<double>(iters) * kAcc * 16 * 4 * 2;
}

uint64_t ReadAllAvx512(const void* p, size_t bytes) {
  const __m512i* v = static_cast<const __m512i*>(p);
  const size_t n = bytes / 64;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 4 <= n; i += 4) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(v + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(v + i + 1));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(v + i + 2));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(v + i + 3));
  }
  const __m512i s = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  return static_cast<uint64_t>(Sum(s));
}

}  // namespace dsvl2::kernels::cpu
