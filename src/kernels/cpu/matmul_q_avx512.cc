// AVX-512 (VNNI) matrix product with block-quantized weights: the numerics of ref::MatMulQ.
// Weights are read one 16-row panel at a time (base/quant.h): a 64-byte chunk holds 4
// consecutive elements of each of the panel's 16 rows, so one vpdpbusd (u8 x s8 -> s32) against
// 4 broadcast activation bytes adds a 4-term dot product to each of 16 output columns at once,
// with no horizontal sums. The weight is the unsigned operand: q4_0 nibbles (0..15) as stored,
// q8_0 bytes flipped to v + 128; the zero point (-8 resp. -128 times the block's activation sum,
// precomputed by the quantizer) starts the accumulation. Per block: s32 -> f32, times (16 weight
// scales x activation scale), accumulated in f32 (one zmm per input row = 16 columns). Each
// unpacked panel block feeds a tile of up to 16 input rows (16 accumulators + 8 weight operands
// in 32 zmm); panels are split over the thread pool, input rows go in chunks of 64 so their
// quantized copy stays in L2. CPUs with AVX-512F/BW but no VNNI use the AVX2 kernel.
//
// Per row and block the tile issues 8 vpdpbusd plus a convert, a multiply and an FMA, which
// share the vpdpbusd ports: about 75% of the VNNI peak is the ceiling with these numerics.
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

constexpr int kMaxTileRows = 16;
// Rows whose dot-product chains are interleaved in program order (the out-of-order core need
// not look across rows to keep both VNNI ports busy; vpdpbusd latency is 4 cycles).
constexpr int kRowGroup = 4;
// The hardware prefetchers stop at 4 KiB page boundaries (a q4_0 panel of k = 1280 spans three),
// so tiles prefetch kPrefetchBytes ahead themselves (batch-16 lm_head q8_0: 17 -> 11.5 ms in
// quant_matmul_bench 16). On the 2-vCPU EPYC of docs/benchmarks/2026-11-23-s3 one-row tiles
// seemed slower with it (a noisy session), so tiles of < 8 rows went without; on the Xeon of
// docs/benchmarks/2026-12-01 every tile size gains (vl2-tiny batch-1 decode, three alternated
// pairs: q4_0 42 -> 56 tok/s, q8_0 31.7 -> 33.4), so all of them prefetch now.
constexpr size_t kPrefetchBytes = 4096;
// 4 activation bytes read as one int32 (may alias the int8 buffer, any alignment).
typedef int32_t __attribute__((may_alias, aligned(1))) Int32Alias;

template <DType T>
constexpr size_t kPanelBlockBytes = kQuantPanel * (T == DType::kQ4_0 ? 18 : 34);

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

// d += w (u8) x the 4 activation bytes at x4 (s8) broadcast to all 16 lanes, the broadcast being
// vpdpbusd's m32bcst memory operand (GCC does not fold _mm512_set1_epi32(*x4) into it and issues
// a separate vpbroadcastd). An asm with a memory operand stops GCC from moving other memory
// accesses of the loop out of it: every array the loop updates must live in registers (see Tile).
inline __m512i DpbusdBcst(__m512i d, __m512i w, const int8_t* x4) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(d) : "v"(w), "m"(*reinterpret_cast<const Int32Alias*>(x4)));
  return d;
}

// acc[ii] (16 columns of the panel) += input rows [i0, i0+NI) against all blocks of the panel.
template <DType T, int NI>
inline void PanelTile(const QuantActs& a, int64_t i0, const uint8_t* panel, int64_t nb, __m512 acc[NI]) {
  const int64_t m = a.m;
  // Block-major activations: the tile's rows at block b are consecutive records, so every row's
  // values, scale and zero term are at constant offsets from three pointers.
  const int8_t* xq = a.q.data() + i0 * kQuantBlock;
  const float* xs = a.scale.data() + i0;
  const int32_t* xz = a.zero.data() + i0;
  for (int64_t b = 0; b < nb; ++b, xq += m * kQuantBlock, xs += m, xz += m) {
    const uint8_t* blk = panel + static_cast<size_t>(b) * kPanelBlockBytes<T>;
    for (size_t o = 0; o < kPanelBlockBytes<T>; o += 64)
      _mm_prefetch(reinterpret_cast<const char*>(blk + kPrefetchBytes + o), _MM_HINT_T0);
    __m512i w[8];
    UnpackBlock<T>(blk + 2 * kQuantPanel, w);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
#pragma GCC unroll 16
    for (int g = 0; g < NI; g += kRowGroup) {
      constexpr int kG = kRowGroup;
      const int rows = NI - g < kG ? NI - g : kG;
      __m512i d[kG];
#pragma GCC unroll 16
      for (int r = 0; r < rows; ++r) d[r] = _mm512_set1_epi32(xz[g + r]);
#pragma GCC unroll 8
      for (int c = 0; c < 8; ++c)
#pragma GCC unroll 16
        for (int r = 0; r < rows; ++r) d[r] = DpbusdBcst(d[r], w[c], xq + (g + r) * kQuantBlock + 4 * c);
#pragma GCC unroll 16
      for (int r = 0; r < rows; ++r) {
        const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(xs[g + r]));
        acc[g + r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d[r]), s, acc[g + r]);
      }
    }
  }
}

// Rows [i0, i0+NI) x columns [j0, j1) of y (row stride n), all inside panel p.
template <DType T, int NI>
void Tile(const QuantActs& a, int64_t i0, const uint8_t* panel, int64_t nb, int64_t p, int64_t j0, int64_t j1,
          int64_t n, const float* bias, float* y) {
  // Every loop over acc is unrolled so that GCC's SRA keeps it in registers: one access at a
  // variable index would leave it in memory, and the asm of DpbusdBcst would then pin its stores
  // inside the block loop.
  __m512 acc[NI];
#pragma GCC unroll 16
  for (int ii = 0; ii < NI; ++ii) acc[ii] = _mm512_setzero_ps();
  PanelTile<T, NI>(a, i0, panel, nb, acc);
  const int64_t c0 = p * kQuantPanel;
  const int lo = static_cast<int>(j0 - c0), hi = static_cast<int>(j1 - c0);
  const __mmask16 mask = static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(mask, bias + c0) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int ii = 0; ii < NI; ++ii) _mm512_mask_storeu_ps(y + (i0 + ii) * n + c0, mask, _mm512_add_ps(acc[ii], bv));
}

// Rows [r0, r1): tiles of 16, then one of 8, then 1..7 rows.
template <DType T>
void RowTiles(const QuantActs& a, int64_t r0, int64_t r1, const uint8_t* panel, int64_t nb, int64_t p, int64_t j0,
              int64_t j1, int64_t n, const float* bias, float* y) {
  int64_t i = r0;
  for (; i + kMaxTileRows <= r1; i += kMaxTileRows) Tile<T, kMaxTileRows>(a, i, panel, nb, p, j0, j1, n, bias, y);
  if (i + 8 <= r1) {
    Tile<T, 8>(a, i, panel, nb, p, j0, j1, n, bias, y);
    i += 8;
  }
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
