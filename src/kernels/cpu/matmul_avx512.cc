// AVX-512F matrix product for f32 / f16 weights and few rows: as the AVX2 kernel with 16 lanes,
// weights converted on the fly, 4 output columns x 2 input rows per micro-tile, columns split over
// the thread pool. Also the table's entry points: which kernel takes which dtype, precision and
// row count (bf16: cpu/matmul_bf16_rows_f32_avx512.cc, the medium-precision kernels, the GEMM).
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "base/half.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/hsum_avx512.h"
#include "kernels/cpu/matmul_driver.h"

namespace dsvl2::kernels::cpu {
namespace {

template <DType T>
inline __m512 Load16(const void* base, int64_t idx) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + idx);
  } else {  // f16 (bf16 goes to cpu/matmul_bf16_rows_f32_avx512.cc)
    __m256i h = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + idx));
    return _mm512_cvtph_ps(h);
  }
}

template <DType T>
inline __m512 LoadTail(const void* base, int64_t idx, __mmask16 m) {
  if constexpr (T == DType::kF32) {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + idx);
  } else {  // f16
    __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + idx);
    return _mm512_cvtph_ps(h);
  }
}

template <DType T>
using Elem = std::conditional_t<T == DType::kF32, float, uint16_t>;

// sums[w][a][b] = dot(x row i0+b, row j0+a of weight matrix ws[w]), for NW matrices at once (one
// pass over x feeds every weight stream).
template <DType T, int NW, int NJ, int NI>
inline void Dots(const float* x, int64_t i0, int64_t k, const void* const* ws, int64_t j0,
                 float sums[NW][NJ][NI]) {
  __m512 acc[NW][NJ][NI];
  for (int v = 0; v < NW; ++v)
    for (int a = 0; a < NJ; ++a)
      for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_setzero_ps();
  int64_t t = 0;
  for (; t + 16 <= k; t += 16) {
    __m512 xv[NI];
    for (int b = 0; b < NI; ++b) xv[b] = _mm512_loadu_ps(x + (i0 + b) * k + t);
    for (int v = 0; v < NW; ++v)
      for (int a = 0; a < NJ; ++a) {
        __m512 wv = Load16<T>(ws[v], (j0 + a) * k + t);
        for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_fmadd_ps(wv, xv[b], acc[v][a][b]);
        // The same place in the next tile's rows (NJ rows further on): weights stream from DRAM
        // in decode, and the short rows defeat the hardware prefetcher's stream detection.
        if ((t & 31) == 0)
          _mm_prefetch(static_cast<const char*>(ws[v]) + ((j0 + a + NJ) * k + t) * sizeof(Elem<T>),
                       _MM_HINT_T0);
      }
  }
  if (t < k) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k - t)) - 1);
    __m512 xv[NI];
    for (int b = 0; b < NI; ++b) xv[b] = _mm512_maskz_loadu_ps(m, x + (i0 + b) * k + t);
    for (int v = 0; v < NW; ++v)
      for (int a = 0; a < NJ; ++a) {
        __m512 wv = LoadTail<T>(ws[v], (j0 + a) * k + t, m);
        for (int b = 0; b < NI; ++b) acc[v][a][b] = _mm512_fmadd_ps(wv, xv[b], acc[v][a][b]);
      }
  }
  SumAll<NW * NJ * NI>(&acc[0][0][0], &sums[0][0][0]);
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
      for (int b = 0; b < NI; ++b) y[(i0 + b) * n + j0 + a] = s[0][a][b] + (bias ? bias[j0 + a] : 0.0f);
  }
  template <int NJ, int NI>
  static void SwiTile(const float* x, int64_t i0, int64_t k, const void* gate, const void* up,
                      int64_t j0, int64_t n, float* out) {
    const void* ws[2] = {gate, up};
    float s[2][NJ][NI];
    Dots<T, 2, NJ, NI>(x, i0, k, ws, j0, s);
    StoreSiluTimes<NJ, NI>(s[0], s[1], out + i0 * n + j0, n);
  }
};

template <DType T>
void Run(const float* x, int64_t m, int64_t k, const TensorView& wv, const float* bias, float* y) {
  RunTiles<Tiles<T>>(x, m, k, wv.data, wv.dim(0), bias, y);
}

// bf16 weights at MatMulPrecision::kMedium on a CPU whose AVX-512-BF16 is faster than its f32 FMA:
// activations rounded to bf16.
bool Bf16Medium(DType w, int64_t m) {
  return w == DType::kBF16 && m >= kBf16RowsMinRows && GetMatMulPrecision() == MatMulPrecision::kMedium &&
         Avx512Bf16Preferred();
}

}  // namespace

void MatMulAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y) {
  if (Bf16Medium(w.dtype, m)) {
    if (m < kBf16SmallMinRows) return MatMulBf16RowsAvx512(x, m, k, w, bias, y);
    if (m < kGemmMinRows || Bf16SmallFits(m, k)) return GemmAvx512Bf16Small(x, m, k, w, bias, y);
    return GemmAvx512Bf16(x, m, k, w, bias, y);
  }
  // bf16 and f32 weights through the same transposed kernel where it is chosen (the same sums:
  // an f32 checkpoint of bf16 values gives the bf16 checkpoint's results).
  if ((w.dtype == DType::kBF16 || w.dtype == DType::kF32) && F32SmallChosen(m, k))
    return GemmAvx512Bf16F32Small(x, m, k, w, bias, y);
  // bf16 from one row (decode's matvec: 4-row tiles there, cold weights 41-46 GB/s against 35-40
  // for this file's 4 x 1 tiles, docs/benchmarks/2026-12-07-zen5) to the GEMM's rows.
  if (w.dtype == DType::kBF16) {
    return m >= kGemmMinRowsAvx512Bf16 ? GemmAvx512(x, m, k, w, bias, y)
                                       : MatMulBf16RowsF32Avx512(x, m, k, w, bias, y);
  }
  if (m >= kGemmMinRows && IsFloatDType(w.dtype)) return GemmAvx512(x, m, k, w, bias, y);
  switch (w.dtype) {
    case DType::kF32:
      return Run<DType::kF32>(x, m, k, w, bias, y);
    case DType::kF16:
      return Run<DType::kF16>(x, m, k, w, bias, y);
    default:
      return MatMulGeneric(x, m, k, w, bias, y);
  }
}

bool SwiGluManyAvx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                      const TensorView& up, float* out) {
  if (gate.dtype != DType::kBF16 || up.dtype != DType::kBF16) return false;
  if (Bf16Medium(DType::kBF16, m)) {
    if (m < kBf16SmallMinRows || !Bf16SmallFits(m, k)) return false;
    SwiGluAvx512Bf16Small(x, m, k, gate, up, out);
    return true;
  }
  if (!F32SmallChosen(m, k)) return false;
  SwiGluAvx512Bf16F32Small(x, m, k, gate, up, out);
  return true;
}

void MatMulColsAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                      int64_t j1, float* y) {
  const int64_t n = w.dim(0);
  if (Bf16Medium(w.dtype, m)) return MatMulColsBf16RowsAvx512(x, m, k, w, j0, j1, y);
  switch (w.dtype) {
    case DType::kF32: return TileCols<Tiles<DType::kF32>>(x, m, k, w.data, n, nullptr, y, j0, j1);
    case DType::kBF16: return MatMulColsBf16RowsF32Avx512(x, m, k, w, j0, j1, y);
    case DType::kF16: return TileCols<Tiles<DType::kF16>>(x, m, k, w.data, n, nullptr, y, j0, j1);
    default: return MatMulColsGeneric(x, m, k, w, j0, j1, y);
  }
}

void SwiGluColsAvx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                      const TensorView& up, int64_t j0, int64_t j1, float* out) {
  const int64_t n = gate.dim(0);
  if (gate.dtype != up.dtype) return SwiGluColsGeneric(x, m, k, gate, up, j0, j1, out);
  if (gate.dtype == DType::kBF16 && Bf16Medium(up.dtype, m))
    return SwiGluColsBf16RowsAvx512(x, m, k, gate, up, j0, j1, out);
  switch (gate.dtype) {
    case DType::kF32:
      return SwiTileCols<Tiles<DType::kF32>>(x, m, k, gate.data, up.data, n, out, j0, j1);
    case DType::kBF16: return SwiGluColsBf16RowsF32Avx512(x, m, k, gate, up, j0, j1, out);
    case DType::kF16:
      return SwiTileCols<Tiles<DType::kF16>>(x, m, k, gate.data, up.data, n, out, j0, j1);
    default: return SwiGluColsGeneric(x, m, k, gate, up, j0, j1, out);
  }
}

}  // namespace dsvl2::kernels::cpu
