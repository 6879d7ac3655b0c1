// AVX2 matrix product with block-quantized weights: the numerics of ref::MatMulQ. Weights are
// read one 16-row panel at a time (base/quant.h), as two halves of 8 rows: 32 bytes of a chunk
// hold 4 consecutive elements of each of 8 rows, so vpmaddubsw (u8 x s8 -> s16 pairs) against 4
// broadcast activation bytes, then vpmaddwd, gives a 4-term dot product for 8 output columns at
// once. q4_0: nibbles (0..15) are the unsigned operand; the 8 chunks of a block are summed in
// s16 (8 x 2 x 15 x 127 < 32768) and the zero-point term (-8 x the activation sum) is added. q8_0:
// |w| and sign(x, w) (2 x 127 x 127 < 32768, one vpmaddwd per chunk). s32 -> f32 times (weight
// scales x activation scale), accumulated in f32. Each half-block chunk is loaded (and |w| taken)
// once for a tile of up to 4 input rows; panels are split over the thread pool. (A software
// prefetch 8 blocks ahead was tried and not kept: no gain at 4-16 rows, slower at 1 row on the
// Zen 4 of docs/benchmarks/2026-12-02b.)
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

constexpr int kMaxTileRows = 4;
typedef int32_t __attribute__((may_alias, aligned(1))) Int32Alias;

// The q8_0 integer sums of one block for a tile of 4 rows, in assembly: for each of the 8 chunks,
// one load and |w| of the chunk, then per row broadcast, sign, vpmaddubsw, vpmaddwd, add into that
// row's sum. (The same sequence as intrinsics in HalfTile, where GCC re-associated the 8 chunk
// sums of each row into a tree and kept the partial sums on the stack: a store and a load per
// chunk and row. quant_matmul_bench on Zen 3, 3 alternated rounds: 4 rows 5-25% less time, 16
// rows within the noise; docs/benchmarks/2026-12-03b.)
// x: the 4 rows' 32-byte records of this block, consecutive; q: the half panel's first chunk.
inline void Q8BlockSums4(const uint8_t* q, const int8_t* x, __m256i ones, __m256i& d0, __m256i& d1,
                         __m256i& d2, __m256i& d3) {
  __m256i wc, aw, t;
  __asm__(
      ".irp c,0,1,2,3,4,5,6,7\n"
      "vmovdqu 64*\\c(%[q]), %[wc]\n"
      "vpabsb %[wc], %[aw]\n"
      "vpbroadcastd 4*\\c(%[x]), %[t]\n"
      "vpsignb %[wc], %[t], %[t]\n"
      "vpmaddubsw %[t], %[aw], %[t]\n"
      "vpmaddwd %[ones], %[t], %[t]\n"
      "vpaddd %[t], %[d0], %[d0]\n"
      "vpbroadcastd 32+4*\\c(%[x]), %[t]\n"
      "vpsignb %[wc], %[t], %[t]\n"
      "vpmaddubsw %[t], %[aw], %[t]\n"
      "vpmaddwd %[ones], %[t], %[t]\n"
      "vpaddd %[t], %[d1], %[d1]\n"
      "vpbroadcastd 64+4*\\c(%[x]), %[t]\n"
      "vpsignb %[wc], %[t], %[t]\n"
      "vpmaddubsw %[t], %[aw], %[t]\n"
      "vpmaddwd %[ones], %[t], %[t]\n"
      "vpaddd %[t], %[d2], %[d2]\n"
      "vpbroadcastd 96+4*\\c(%[x]), %[t]\n"
      "vpsignb %[wc], %[t], %[t]\n"
      "vpmaddubsw %[t], %[aw], %[t]\n"
      "vpmaddwd %[ones], %[t], %[t]\n"
      "vpaddd %[t], %[d3], %[d3]\n"
      ".endr\n"
      : [d0] "+x"(d0), [d1] "+x"(d1), [d2] "+x"(d2), [d3] "+x"(d3), [wc] "=&x"(wc), [aw] "=&x"(aw),
        [t] "=&x"(t)
      : [q] "r"(q), [x] "r"(x), [ones] "x"(ones),
        // what the assembly reads: 8 chunks 64 bytes apart, 4 records of 32 bytes
        "m"(*reinterpret_cast<const uint8_t(*)[64 * 7 + 32]>(q)),
        "m"(*reinterpret_cast<const int8_t(*)[128]>(x)));
}

// acc[ii] (8 columns: rows 8h..8h+7 of the panel) += input rows [i0, i0+NI) over all blocks.
// Chunk-outer: each 32-byte weight chunk is loaded (and, for q8, its |w| taken) once and used by
// every row of the tile, whose integer block sums stay in registers (NI s32/s16 sums + NI f32
// accumulators + 5 temporaries fit AVX2's 16 registers for NI <= 4; the row-outer order kept
// the 8 unpacked chunks live across rows and spilled).
template <DType T, int NI>
inline void HalfTile(const QuantActs& a, int64_t i0, const uint8_t* panel, int64_t nb, int h,
                     __m256 acc[NI]) {
  constexpr size_t kBlockBytes = kQuantPanel * (T == DType::kQ4_0 ? 18 : 34);
  const int64_t m = a.m;
  const __m256i ones = _mm256_set1_epi16(1);
  // Block-major activations: the tile's rows at block b are consecutive records.
  const int8_t* xq = a.q.data() + i0 * kQuantBlock;
  const float* xs = a.scale.data() + i0;
  const int32_t* xz = a.zero.data() + i0;
  for (int64_t b = 0; b < nb; ++b, xq += m * kQuantBlock, xs += m, xz += m) {
    const uint8_t* blk = panel + static_cast<size_t>(b) * kBlockBytes;
    const uint8_t* q = blk + 2 * kQuantPanel + 32 * h;
    const Int32Alias* x4 = reinterpret_cast<const Int32Alias*>(xq);
    constexpr int kX4PerRow = kQuantBlock / 4;
    __m256i d[NI];
    for (int ii = 0; ii < NI; ++ii) d[ii] = _mm256_setzero_si256();
    if constexpr (T == DType::kQ4_0) {
      // s16 sums over the block: 8 chunks x 2 x 15 x 127 < 32768.
      const __m256i nib = _mm256_set1_epi8(0x0f);
      for (int c = 0; c < 4; ++c) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * c));
        const __m256i lo = _mm256_and_si256(v, nib);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
        for (int ii = 0; ii < NI; ++ii) {
          d[ii] = _mm256_add_epi16(
              d[ii], _mm256_maddubs_epi16(lo, _mm256_set1_epi32(x4[ii * kX4PerRow + c])));
          d[ii] = _mm256_add_epi16(
              d[ii], _mm256_maddubs_epi16(hi, _mm256_set1_epi32(x4[ii * kX4PerRow + 4 + c])));
        }
      }
      for (int ii = 0; ii < NI; ++ii)
        d[ii] = _mm256_add_epi32(_mm256_madd_epi16(d[ii], ones), _mm256_set1_epi32(xz[ii]));
    } else if constexpr (NI == 4) {
      Q8BlockSums4(q, xq, ones, d[0], d[1], d[2], d[3]);
    } else {
      for (int c = 0; c < 8; ++c) {
        const __m256i wc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 64 * c));
        const __m256i aw = _mm256_abs_epi8(wc);
        for (int ii = 0; ii < NI; ++ii) {
          const __m256i xv = _mm256_sign_epi8(_mm256_set1_epi32(x4[ii * kX4PerRow + c]), wc);
          d[ii] = _mm256_add_epi32(d[ii], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xv), ones));
        }
      }
    }
    const __m256 dw =
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 16 * h)));
    for (int ii = 0; ii < NI; ++ii)
      acc[ii] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d[ii]),
                                _mm256_mul_ps(dw, _mm256_set1_ps(xs[ii])), acc[ii]);
  }
}

// Rows [i0, i0+NI) x columns [j0, j1) of y (row stride n), all inside panel p.
template <DType T, int NI>
void Tile(const QuantActs& a, int64_t i0, const uint8_t* panel, int64_t nb, int64_t p, int64_t j0,
          int64_t j1, int64_t n, const float* bias, float* y) {
  for (int h = 0; h < 2; ++h) {
    const int64_t c0 = p * kQuantPanel + 8 * h;
    if (c0 >= j1 || c0 + 8 <= j0) continue;
    __m256 acc[NI];
    for (int ii = 0; ii < NI; ++ii) acc[ii] = _mm256_setzero_ps();
    HalfTile<T, NI>(a, i0, panel, nb, h, acc);
    const bool full = c0 >= j0 && c0 + 8 <= j1;
    for (int ii = 0; ii < NI; ++ii) {
      float* yr = y + (i0 + ii) * n + c0;
      if (full) {
        const __m256 bv = bias ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
        _mm256_storeu_ps(yr, _mm256_add_ps(acc[ii], bv));
      } else {
        // Masked, in registers (a scalar loop over a stack copy made GCC keep acc in memory
        // through the whole block loop). Lanes l with j0 <= c0 + l < j1.
        const __m256i l = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(c0)),
                                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256i mask =
            _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(j0)), l),
                                _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(j1)), l));
        const __m256 bv = bias ? _mm256_maskload_ps(bias + c0, mask) : _mm256_setzero_ps();
        _mm256_maskstore_ps(yr, mask, _mm256_add_ps(acc[ii], bv));
      }
    }
  }
}

template <DType T>
void RowTiles(const QuantActs& a, int64_t r0, int64_t r1, const uint8_t* panel, int64_t nb,
              int64_t p, int64_t j0, int64_t j1, int64_t n, const float* bias, float* y) {
  int64_t i = r0;
  for (; i + kMaxTileRows <= r1; i += kMaxTileRows)
    Tile<T, kMaxTileRows>(a, i, panel, nb, p, j0, j1, n, bias, y);
  switch (r1 - i) {
    case 3:
      Tile<T, 3>(a, i, panel, nb, p, j0, j1, n, bias, y);
      break;
    case 2:
      Tile<T, 2>(a, i, panel, nb, p, j0, j1, n, bias, y);
      break;
    case 1:
      Tile<T, 1>(a, i, panel, nb, p, j0, j1, n, bias, y);
      break;
    default:
      break;
  }
}

// The row tiles of one panel, for the shared loops of matmul_q_driver.h.
struct PanelKernel {
  template <DType T>
  static void RowTiles(const QuantActs& a, int64_t r0, int64_t r1, const uint8_t* panel, int64_t nb,
                       int64_t p, int64_t j0, int64_t j1, int64_t n, const float* bias, float* y) {
    cpu::RowTiles<T>(a, r0, r1, panel, nb, p, j0, j1, n, bias, y);
  }
};

}  // namespace

void QuantizeActsAvx2(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a) {
  a->Reset(m, k, wtype, QuantActs::Layout::kBlockMajor);
  QuantizeActBlocksX86(x, 0, k / kQuantBlock, a);
}

void MatMulQColsAvx2(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  QuantPanelCols<PanelKernel>(a, w, j0, j1, nullptr, y);
}

void MatMulQAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                 float* y) {
  QuantMatMul<PanelKernel>(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
