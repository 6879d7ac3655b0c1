// AVX2+FMA matrix product. bf16 weights take the few-row kernel of matmul_bf16_rows_avx2.cc below
// kGemmMinRowsAvx2Bf16 rows and the packed GEMM from there on. f32/f16 weights below kGemmMinRows:
// converted on the fly (8 lanes), the micro-kernel computes 4 output columns × 2 input rows at
// once; work is split over output columns on the global thread pool.
#include <immintrin.h>

#include <algorithm>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/load_avx2.h"
#include "kernels/cpu/matmul_driver.h"

namespace dsvl2::kernels::cpu {
namespace {

inline float HSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 sh = _mm_movehdup_ps(lo);
  lo = _mm_add_ps(lo, sh);
  sh = _mm_movehl_ps(sh, lo);
  return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

// sums[w][a][b] = dot(x row i0+b, row j0+a of weight matrix ws[w]), for NW matrices at once.
template <DType T, int NW, int NJ, int NI>
inline void Dots(const float* x, int64_t i0, int64_t k, const void* const* ws, int64_t j0,
                 float sums[NW][NJ][NI]) {
  __m256 acc[NW][NJ][NI];
  for (int v = 0; v < NW; ++v)
    for (int a = 0; a < NJ; ++a)
      for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm256_setzero_ps();
  int64_t t = 0;
  for (; t + 8 <= k; t += 8) {
    __m256 xv[NI];
    for (int b = 0; b < NI; ++b) xv[b] = _mm256_loadu_ps(x + (i0 + b) * k + t);
    for (int v = 0; v < NW; ++v)
      for (int a = 0; a < NJ; ++a) {
        __m256 wv = Load8<T>(ws[v], (j0 + a) * k + t);
        for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm256_fmadd_ps(wv, xv[b], acc[v][a][b]);
      }
  }
  for (int v = 0; v < NW; ++v)
    for (int a = 0; a < NJ; ++a)
      for (int b = 0; b < NI; ++b) {
        float s = HSum(acc[v][a][b]);
        for (int64_t u = t; u < k; ++u)
          s += x[(i0 + b) * k + u] * LoadScalar<T>(ws[v], (j0 + a) * k + u);
        sums[v][a][b] = s;
      }
}

template <DType T>
struct Tiles {
  // Columns [j0, j0+NJ) for rows [i0, i0+NI) of y.
  template <int NJ, int NI>
  static void Tile(const float* x, int64_t i0, int64_t k, const void* w, int64_t j0, int64_t n,
                   const float* bias, float* y) {
    float s[1][NJ][NI];
    Dots<T, 1, NJ, NI>(x, i0, k, &w, j0, s);
    for (int a = 0; a < NJ; ++a)
      for (int b = 0; b < NI; ++b)
        y[(i0 + b) * n + j0 + a] = s[0][a][b] + (bias ? bias[j0 + a] : 0.0f);
  }
  template <int NJ, int NI>
  static void SwiTile(const float* x, int64_t i0, int64_t k, const void* gate, const void* up,
                      int64_t j0, int64_t n, float* out) {
    const void* ws[2] = {gate, up};
    float s[2][NJ][NI];
    Dots<T, 2, NJ, NI>(x, i0, k, ws, j0, s);
    for (int a = 0; a < NJ; ++a)
      for (int b = 0; b < NI; ++b) out[(i0 + b) * n + j0 + a] = SiluTimes(s[0][a][b], s[1][a][b]);
  }
};

template <DType T>
void Run(const float* x, int64_t m, int64_t k, const TensorView& wv, const float* bias, float* y) {
  RunTiles<Tiles<T>>(x, m, k, wv.data, wv.dim(0), bias, y);
}

}  // namespace

void MatMulAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                float* y) {
  if (w.dtype == DType::kBF16)
    return m >= kGemmMinRowsAvx2Bf16 ? GemmAvx2(x, m, k, w, bias, y)
                                     : MatMulBf16RowsAvx2(x, m, k, w, bias, y);
  if (m >= kGemmMinRows && IsFloatDType(w.dtype)) return GemmAvx2(x, m, k, w, bias, y);
  switch (w.dtype) {
    case DType::kF32:
      return Run<DType::kF32>(x, m, k, w, bias, y);
    case DType::kF16:
      return Run<DType::kF16>(x, m, k, w, bias, y);
    default:
      return MatMulGeneric(x, m, k, w, bias, y);
  }
}

void MatMulColsAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                    int64_t j1, float* y) {
  const int64_t n = w.dim(0);
  if (w.dtype == DType::kBF16) return MatMulColsBf16RowsAvx2(x, m, k, w, j0, j1, y);
  switch (w.dtype) {
    case DType::kF32:
      return TileCols<Tiles<DType::kF32>>(x, m, k, w.data, n, nullptr, y, j0, j1);
    case DType::kF16:
      return TileCols<Tiles<DType::kF16>>(x, m, k, w.data, n, nullptr, y, j0, j1);
    default:
      return MatMulColsGeneric(x, m, k, w, j0, j1, y);
  }
}

void SwiGluColsAvx2(const float* x, int64_t m, int64_t k, const TensorView& gate,
                    const TensorView& up, int64_t j0, int64_t j1, float* out) {
  const int64_t n = gate.dim(0);
  if (gate.dtype != up.dtype) return SwiGluColsGeneric(x, m, k, gate, up, j0, j1, out);
  if (gate.dtype == DType::kBF16) return SwiGluColsBf16RowsAvx2(x, m, k, gate, up, j0, j1, out);
  switch (gate.dtype) {
    case DType::kF32:
      return SwiTileCols<Tiles<DType::kF32>>(x, m, k, gate.data, up.data, n, out, j0, j1);
    case DType::kF16:
      return SwiTileCols<Tiles<DType::kF16>>(x, m, k, gate.data, up.data, n, out, j0, j1);
    default:
      return SwiGluColsGeneric(x, m, k, gate, up, j0, j1, out);
  }
}

}  // namespace dsvl2::kernels::cpu
