// AVX-512F matrix product: as the AVX2 kernel with 16 lanes. Weights converted from bf16/f16/f32
// on the fly; 4 output columns × 2 input rows per micro-tile; columns split over the thread pool.
#include <immintrin.h>

#include <algorithm>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"

namespace dsvl2::kernels::cpu {
namespace {

template <DType T>
inline __m512 Load16(const void* base, int64_t idx) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + idx);
  } else if constexpr (T == DType::kBF16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm512_cvtph_ps(h);
  }
}

template <DType T>
inline __m512 LoadTail(const void* base, int64_t idx, __mmask16 m) {
  if constexpr (T == DType::kF32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + idx);
  } else if constexpr (T == DType::kBF16) {
    __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + idx);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + idx);
    return _mm512_cvtph_ps(h);
  }
}

template <DType T, int NJ, int NI>
inline void Tile(const float* x, int64_t i0, int64_t k, const void* w, int64_t j0, int64_t n,
                 const float* bias, float* y) {
  __m512 acc[NJ][NI];
  for (int a = 0; a < NJ; ++a)
    for (int b = 0; b < NI; ++b) acc[a][b] = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + 16 <= k; t += 16) {
    __m512 xv[NI];
    for (int b = 0; b < NI; ++b) xv[b] = _mm512_loadu_ps(x + (i0 + b) * k + t);
    for (int a = 0; a < NJ; ++a) {
      __m512 wv = Load16<T>(w, (j0 + a) * k + t);
      for (int b = 0; b < NI; ++b) acc[a][b] = _mm512_fmadd_ps(wv, xv[b], acc[a][b]);
    }
  }
  if (t < k) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k - t)) - 1);
    __m512 xv[NI];
    for (int b = 0; b < NI; ++b) xv[b] = _mm512_maskz_loadu_ps(m, x + (i0 + b) * k + t);
    for (int a = 0; a < NJ; ++a) {
      __m512 wv = LoadTail<T>(w, (j0 + a) * k + t, m);
      for (int b = 0; b < NI; ++b) acc[a][b] = _mm512_fmadd_ps(wv, xv[b], acc[a][b]);
    }
  }
  for (int a = 0; a < NJ; ++a)
    for (int b = 0; b < NI; ++b)
      y[(i0 + b) * n + j0 + a] = _mm512_reduce_add_ps(acc[a][b]) + (bias ? bias[j0 + a] : 0.0f);
}

template <DType T>
void Run(const float* x, int64_t m, int64_t k, const TensorView& wv, const float* bias, float* y) {
  const int64_t n = wv.dim(0);
  const void* w = wv.data;
  const int64_t nblocks = (n + 3) / 4;
  ThreadPool::Global().ParallelFor(nblocks, std::max<int64_t>(1, 4096 / std::max<int64_t>(k, 1)),
                                   [&](int64_t b0, int64_t b1) {
    for (int64_t bj = b0; bj < b1; ++bj) {
      const int64_t j = bj * 4;
      if (j + 4 <= n) {
        int64_t i = 0;
        for (; i + 2 <= m; i += 2) Tile<T, 4, 2>(x, i, k, w, j, n, bias, y);
        for (; i < m; ++i) Tile<T, 4, 1>(x, i, k, w, j, n, bias, y);
      } else {
        for (int64_t jj = j; jj < n; ++jj)
          for (int64_t i = 0; i < m; ++i) Tile<T, 1, 1>(x, i, k, w, jj, n, bias, y);
      }
    }
  });
}

}  // namespace

void MatMulAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y) {
  switch (w.dtype) {
    case DType::kF32: return Run<DType::kF32>(x, m, k, w, bias, y);
    case DType::kBF16: return Run<DType::kBF16>(x, m, k, w, bias, y);
    case DType::kF16: return Run<DType::kF16>(x, m, k, w, bias, y);
    default: return MatMulGeneric(x, m, k, w, bias, y);
  }
}

}  // namespace dsvl2::kernels::cpu
