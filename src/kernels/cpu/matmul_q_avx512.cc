// AVX-512 (VNNI) matrix product with block-quantized weights: the numerics of ref::MatMulQ.
// Weights are read one 16-row panel at a time (base/quant.h): a 64-byte chunk holds 4
// consecutive elements of each of the panel's 16 rows, so one vpdpbusd (u8 x s8 -> s32) against
// 4 broadcast activation bytes adds a 4-term dot product to each of 16 output columns at once,
// with no horizontal sums. The weight is the unsigned operand: q4_0 nibbles (0..15) as stored,
// q8_0 bytes flipped to v + 128; the zero point (-8 resp. -128 times the block's activation sum)
// starts the accumulation. Per block: s32 -> f32, times (16 weight scales x activation scale),
// accumulated in f32 (one zmm per input row = 16 columns). Each unpacked panel block feeds a tile
// of up to 8 input rows; panels are split over the thread pool, input rows go in chunks of 64 so
// their quantized copy stays in L2. CPUs with AVX-512F/BW but no VNNI use the AVX2 kernel.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/logging.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/matmul_q_driver.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int kMaxTileRows = 8;
// 4 activation bytes read as one int32 (may alias the int8 buffer, any alignment).
typedef int32_t __attribute__((may_alias, aligned(1))) Int32Alias;

// The 8 unsigned weight operands of one panel block: w[c] pairs with activation bytes 4c..4c+3.
template <DType T>
inline void UnpackBlock(const uint8_t* q, __m512i w[8]) {
  if constexpr (T == DType::kQ4_0) {
    const __m512i nib = _mm512_set1_epi8(0x0f);
    for (int c = 0; c < 4; ++c) {
      const __m512i v = _mm512_loadu_si512(q + 64 * c);
      w[c] = _mm512_and_si512(v, nib);                          // elements 4c..4c+3
      w[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);  // elements 16+4c..16+4c+3
    }
  } else {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int c = 0; c < 8; ++c) w[c] = _mm512_xor_si512(_mm512_loadu_si512(q + 64 * c), flip);
  }
}

// acc[ii] (16 columns of the panel) += input rows [i0, i0+NI) against all blocks of the panel.
template <DType T, int NI>
inline void PanelTile(const QuantActs& a, int64_t i0, const uint8_t* panel, int64_t nb, __m512 acc[NI]) {
  constexpr size_t kBlockBytes = kQuantPanel * (T == DType::kQ4_0 ? 18 : 34);
  const int64_t m = a.m;
  // Block-major activations: the tile's rows at block b are consecutive records, so every row's
  // values, scale and zero term are at constant offsets from three pointers.
  const int8_t* xq = a.q.data() + i0 * kQuantBlock;
  const float* xs = a.scale.data() + i0;
  const int32_t* xz = a.zero.data() + i0;
  for (int64_t b = 0; b < nb; ++b, xq += m * kQuantBlock, xs += m, xz += m) {
    const uint8_t* blk = panel + static_cast<size_t>(b) * kBlockBytes;
    __m512i w[8];
    UnpackBlock<T>(blk + 2 * kQuantPanel, w);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
#pragma GCC unroll 16
    for (int ii = 0; ii < NI; ++ii) {
      const Int32Alias* x4 = reinterpret_cast<const Int32Alias*>(xq + ii * kQuantBlock);
      // One chain per row: the tile's rows are independent chains.
      __m512i d = _mm512_set1_epi32(xz[ii]);
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c) d = _mm512_dpbusd_epi32(d, w[c], _mm512_set1_epi32(x4[c]));
      const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(xs[ii]));
      acc[ii] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc[ii]);
    }
  }
}

// Rows [i0, i0+NI) x columns [j0, j1) of y (row stride n), all inside panel p.
template <DType T, int NI>
void Tile(const QuantActs& a, int64_t i0, const uint8_t* panel, int64_t nb, int64_t p, int64_t j0, int64_t j1,
          int64_t n, const float* bias, float* y) {
  __m512 acc[NI];
  for (int ii = 0; ii < NI; ++ii) acc[ii] = _mm512_setzero_ps();
  PanelTile<T, NI>(a, i0, panel, nb, acc);
  const int64_t c0 = p * kQuantPanel;
  const int lo = static_cast<int>(j0 - c0), hi = static_cast<int>(j1 - c0);
  const __mmask16 mask = static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + c0) : _mm512_setzero_ps();
  for (int ii = 0; ii < NI; ++ii) _mm512_mask_storeu_ps(y + (i0 + ii) * n + c0, mask, _mm512_add_ps(acc[ii], bv));
}

template <DType T>
void RowTiles(const QuantActs& a, int64_t r0, int64_t r1, const uint8_t* panel, int64_t nb, int64_t p, int64_t j0,
              int64_t j1, int64_t n, const float* bias, float* y) {
  int64_t i = r0;
  for (; i + kMaxTileRows <= r1; i += kMaxTileRows) Tile<T, kMaxTileRows>(a, i, panel, nb, p, j0, j1, n, bias, y);
  switch (r1 - i) {
    case 7: Tile<T, 7>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    case 6: Tile<T, 6>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    case 5: Tile<T, 5>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    case 4: Tile<T, 4>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    case 3: Tile<T, 3>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    case 2: Tile<T, 2>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    case 1: Tile<T, 1>(a, i, panel, nb, p, j0, j1, n, bias, y); break;
    default: break;
  }
}

// The row tiles of one panel, for the shared loops of matmul_q_driver.h.
struct PanelKernel {
  template <DType T>
  static void RowTiles(const QuantActs& a, int64_t r0, int64_t r1, const uint8_t* panel, int64_t nb, int64_t p,
                       int64_t j0, int64_t j1, int64_t n, const float* bias, float* y) {
    cpu::RowTiles<T>(a, r0, r1, panel, nb, p, j0, j1, n, bias, y);
  }
};

bool HasVnni() {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  return vnni;
}

}  // namespace

void MatMulQColsAvx512(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  if (!HasVnni()) return MatMulQColsAvx2(a, w, j0, j1, y);
  QuantPanelCols<PanelKernel>(a, w, j0, j1, nullptr, y);
}

void MatMulQAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y) {
  if (!HasVnni()) return MatMulQAvx2(x, m, k, w, bias, y);
  QuantMatMul<PanelKernel>(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
