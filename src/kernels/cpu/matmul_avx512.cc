// AVX-512F matrix product: as the AVX2 kernel with 16 lanes. Weights converted from bf16/f16/f32
// on the fly; 4 output columns × 2 input rows per micro-tile; columns split over the thread pool.
#include <immintrin.h>

#include <algorithm>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/matmul_driver.h"

namespace dsvl2::kernels::cpu {
namespace {

template <DType T>
inline __m512 Load16(const void* base, int64_t idx) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + idx);
  } else if constexpr (T == DType::kBF16) {
    __m256i h = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    __m256i h = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
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

template <DType T>
struct Tiles {
  // Columns [j0, j0+NJ) for rows [i0, i0+NI) of y.
  template <int NJ, int NI>
  static void Tile(const float* x, int64_t i0, int64_t k, const void* w, int64_t j0, int64_t n,
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
};

template <DType T>
void Run(const float* x, int64_t m, int64_t k, const TensorView& wv, const float* bias, float* y) {
  RunTiles<Tiles<T>>(x, m, k, wv.data, wv.dim(0), bias, y);
}

}  // namespace

void MatMulAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y) {
  switch (w.dtype) {
    case DType::kF32:
      return Run<DType::kF32>(x, m, k, w, bias, y);
    case DType::kBF16:
      return Run<DType::kBF16>(x, m, k, w, bias, y);
    case DType::kF16:
      return Run<DType::kF16>(x, m, k, w, bias, y);
    default:
      return MatMulGeneric(x, m, k, w, bias, y);
  }
}

}  // namespace dsvl2::kernels::cpu
