// AVX-512 product for bf16 weights and f32 activations (MatMulPrecision::kHigh, and kMedium where
// the vdpbf16ps kernels are not preferred) from kF32SmallMinRows input rows while the packed
// activations fit kF32SmallMaxXBytes: the experts' 16-100 rows of a prefill, short prompts.
//
// Why: the packed GEMM (gemm_avx512.cc) transposes every weight block into panels (a 16 x 16
// register transpose per 256 weights) and that packing only pays off over many rows: with an
// expert's 64 rows it took 20% of the time (perf, moe_experts_bench --rows 64 --hot, Intel Xeon
// of docs/benchmarks/2026-12-04); the dot-rows kernel (matmul_bf16_rows_f32_avx512.cc) widens
// every weight load again for each 3 rows and re-reads x per weight block.
//
// Formulation (that of gemm_bf16_small_avx512.cc, in f32): the product is computed transposed,
// y^T[j, i] = sum_k w[j, k] x[i, k], so the weight is the broadcast operand. Threads split the
// weight rows in groups of 14. A group is converted to f32 one block of kKb = 256 k at a time
// (14 x 256 floats, in L1 while every row tile reads it), without transposing: a shift and an and
// per 32 weights, the even k of each block of 32 first, then the odd ones (the activations are
// packed in the same k order), laid out [k / 16][14 rows][16] so that the broadcasts of one step
// sit at fixed offsets from one pointer. The activations are packed once per call into tiles of
// 32 rows ([k][32 rows], zero rows past the tiled ones and zero k up to a multiple of 32); when m
// is at most kDotMaxRows past a multiple of 16, those last rows are packed as plain rows instead
// and multiply the converted block as dot products (16 partial sums per output, added at the
// end) rather than filling a mostly empty 16-row tile. The register tile is 32 input rows x 14
// weight rows (28 zmm accumulators; 16-row tiles for the last rows), carried across the k blocks
// in a per-thread buffer, transposed back (16 x 16 in registers) and stored with the bias. While
// a block's first row tile runs, the block converted next (this group's next k, or the next
// group's first) is prefetched: an expert's weights come from memory once. Buffers are 64-byte
// aligned (base/aligned.h): with std::vector's 16, every zmm load of them split a cache line.
//
// Numerics: each output is an f32 sum, in this k order (for remainder rows: 16 partial sums added
// at the end), of exact products of the bf16 weight (converted exactly) and the f32 activation;
// like the packed GEMM, within f32 rounding of the reference.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "base/aligned.h"
#include "base/logging.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/hsum_avx512.h"
#include "kernels/cpu/mask_avx512.h"
#include "kernels/cpu/transpose_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int kCols = 14;      // weight rows (output columns) per register tile
constexpr int kTileRows = 32;  // input rows per packed tile
constexpr int kChunk = 16;     // k per block of the converted weights
// k per converted block: 14 x 256 floats (14 KB) stay in L1 while every row tile reads them.
constexpr int64_t kKb = 256;

int64_t PaddedK(int64_t k) { return (k + 31) / 32 * 32; }

// Rows [32 t, 32 t + 32) of x, out[kp * 32 + r] with kp the packed position of k: in every block
// of 32, element j goes to (j odd ? 16 : 0) + j / 2.
void PackTile(const float* x, int64_t m, int64_t k, int64_t kpad, int64_t t, float* out) {
  for (int half = 0; half < 2; ++half) {
    const int64_t r0 = t * kTileRows + half * 16;
    const int rows = static_cast<int>(std::clamp<int64_t>(m - r0, 0, 16));
    for (int64_t kk = 0; kk < kpad; kk += 16) {
      const int64_t left = k - kk;
      const __mmask16 mask = Mask16(left);
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(mask, x + (r0 + i) * k + kk) : _mm512_setzero_ps();
      Transpose16(r);  // r[q] = x[r0 .. r0 + 15, kk + q]
      const int64_t block = kk & ~int64_t{31};
      const int e = static_cast<int>((kk >> 4) & 1);  // which half of the block of 32
      for (int q = 0; q < 16; ++q)
        _mm512_storeu_ps(out + (block + (q & 1) * 16 + 8 * e + q / 2) * kTileRows + half * 16, r[q]);
    }
  }
}

// Weight rows [0, ncols) of w (row stride k), k [k0, k0 + len) (len a multiple of 32) ->
// wf[(kp / 16) * 14 * 16 + c * 16 + kp % 16], kp = packed position - k0 in PackTile's order; rows
// past ncols and k past the end are zero. bf16 weights are widened (exactly), f32 ones copied.
template <typename W>
void ConvertBlock(const W* w, int64_t k, int64_t k0, int64_t len, int ncols, float* wf) {
  const __m512i odd_mask = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int c = 0; c < kCols; ++c) {
    const W* row = w + c * k;
    for (int64_t b = 0; b < len; b += 32) {
      float* even_out = wf + (b / kChunk) * kCols * kChunk + c * kChunk;
      float* odd_out = even_out + kCols * kChunk;
      if (c >= ncols) {
        _mm512_storeu_ps(even_out, _mm512_setzero_ps());
        _mm512_storeu_ps(odd_out, _mm512_setzero_ps());
        continue;
      }
      const int64_t left = k - (k0 + b);
      if constexpr (sizeof(W) == 2) {
        const __mmask32 mk = left >= 32  ? ~__mmask32{0}
                             : left <= 0 ? __mmask32{0}
                                         : static_cast<__mmask32>((1u << left) - 1);
        const __m512i v = _mm512_maskz_loadu_epi16(mk, row + k0 + b);  // 32 bf16, pairs (even, odd)
        _mm512_storeu_ps(even_out, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
        _mm512_storeu_ps(odd_out, _mm512_castsi512_ps(_mm512_and_si512(v, odd_mask)));
      } else {
        const __m512 lo = _mm512_maskz_loadu_ps(Mask16(left), row + k0 + b);
        const __m512 hi = _mm512_maskz_loadu_ps(Mask16(left - 16), row + k0 + b + 16);
        _mm512_storeu_ps(even_out, _mm512_permutex2var_ps(lo, even, hi));
        _mm512_storeu_ps(odd_out, _mm512_permutex2var_ps(lo, odd, hi));
      }
    }
  }
}

struct Packed {
  const float* data;  // [tile][kpad][32]: rows [0, mt)
  const float* rest;  // [m - mt][kpad]: rows [mt, m), in the same k order
  int64_t kpad, mt;
};

// Rows past a multiple of 16 that go to the dot-product form instead of a mostly empty tile.
constexpr int64_t kDotMaxRows = 8;
int64_t TiledRows(int64_t m) { return m % 16 <= kDotMaxRows ? m - m % 16 : m; }

// Weight rows prefetched into L2 while a group's first row tile runs: the next group's, at the
// same k.
struct Next {
  const char* w = nullptr;  // row 0 of the next group at this block's k (null: none)
  int64_t row_bytes = 0;
  int elem_bytes = 2;       // 2 (bf16) or 4 (f32)
  int rows = 0;
};

// Accumulates len steps of k (from the block's start) of one row tile into accs ([NH][14][16]
// floats; first: the first block, stored, later ones added): xc is the tile's packed x at the
// block, wf the converted block.
template <int NH>
void TilePart(const float* xc, const float* wf, int64_t len, float* accs, bool first, Next next) {
  // Every loop over acc is fully unrolled so that it stays in registers.
  __m512 acc[NH][kCols];
#pragma GCC unroll 2
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c)
      acc[h][c] = _mm512_setzero_ps();
  for (int64_t ch = 0; ch < len / kChunk; ++ch) {
    const int64_t at = ch * kChunk * next.elem_bytes;
    if (next.w && at % 64 == 0)  // one line of each row: 32 bf16 or 16 f32
      for (int c = 0; c < next.rows; ++c) _mm_prefetch(next.w + c * next.row_bytes + at, _MM_HINT_T0);
    const float* wc = wf + ch * kCols * kChunk;
    const float* xq = xc + ch * kChunk * kTileRows;
#pragma GCC unroll 16
    for (int q = 0; q < kChunk; ++q) {
      __m512 xv[NH];
#pragma GCC unroll 2
      for (int h = 0; h < NH; ++h) xv[h] = _mm512_loadu_ps(xq + q * kTileRows + 16 * h);
#pragma GCC unroll 14
      for (int c = 0; c < kCols; ++c) {
        const __m512 wv = _mm512_set1_ps(wc[c * kChunk + q]);
#pragma GCC unroll 2
        for (int h = 0; h < NH; ++h) acc[h][c] = _mm512_fmadd_ps(xv[h], wv, acc[h][c]);
      }
    }
  }
  // The block's sums added to the earlier blocks' (a sum per block, then over blocks: 3x less
  // rounding error at k = 1152 than one running sum, as accurate as the packed GEMM).
#pragma GCC unroll 2
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c) {
      float* at = accs + (h * kCols + c) * 16;
      _mm512_storeu_ps(at, first ? acc[h][c] : _mm512_add_ps(_mm512_loadu_ps(at), acc[h][c]));
    }
}

// y rows [i0, i0 + 16 * halves) (those < m), columns [0, ncols) of the group, from accs:
// yj[i * ld + c] = accs[h][c][i - i0 - 16 h] (+ bias[c]).
void StoreTile(const float* accs, int halves, int64_t i0, int ncols, int64_t m, int64_t ld,
               const float* bias, float* yj) {
  const __mmask16 cmask = static_cast<__mmask16>((1u << ncols) - 1);
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(cmask, bias) : _mm512_setzero_ps();
  for (int h = 0; h < halves; ++h) {
    __m512 r[16];
    for (int c = 0; c < 16; ++c)
      r[c] = c < kCols ? _mm512_loadu_ps(accs + (h * kCols + c) * 16) : _mm512_setzero_ps();
    Transpose16(r);  // r[l] = y[i0 + 16 h + l, columns 0 .. 15 of the group]
    const int64_t r0 = i0 + 16 * h;
    const int rows = static_cast<int>(std::min<int64_t>(16, m - r0));
    for (int l = 0; l < rows; ++l)
      _mm512_mask_storeu_ps(yj + (r0 + l) * ld, cmask, _mm512_add_ps(r[l], bv));
  }
}

// Accumulates len steps of k of NR (1, 2) remainder rows (xr: the first at the block, row stride
// kpad) against the converted block as dot products: accs[r][c] holds 16 partial sums along k.
template <int NR>
void DotPart(const float* xr, int64_t kpad, const float* wf, int64_t len, float* accs, bool first) {
  __m512 acc[NR][kCols];
#pragma GCC unroll 2
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c)
      acc[r][c] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(accs + (r * kCols + c) * 16);
  for (int64_t ch = 0; ch < len / kChunk; ++ch) {
    __m512 xv[NR];
#pragma GCC unroll 2
    for (int r = 0; r < NR; ++r) xv[r] = _mm512_loadu_ps(xr + r * kpad + ch * kChunk);
    const float* wc = wf + ch * kCols * kChunk;
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c) {
      const __m512 wv = _mm512_loadu_ps(wc + c * kChunk);
#pragma GCC unroll 2
      for (int r = 0; r < NR; ++r) acc[r][c] = _mm512_fmadd_ps(wv, xv[r], acc[r][c]);
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < NR; ++r)
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c) _mm512_storeu_ps(accs + (r * kCols + c) * 16, acc[r][c]);
}

// y row i, columns [0, ncols) of the group, from one remainder row's partial sums (accs[c][16]).
void StoreDot(const float* accs, int ncols, const float* bias, float* yrow) {
  __m512 v[kCols];
  for (int c = 0; c < kCols; ++c) v[c] = _mm512_loadu_ps(accs + c * 16);
  float sums[kCols];
  SumAll<kCols>(v, sums);
  for (int c = 0; c < ncols; ++c) yrow[c] = sums[c] + (bias ? bias[c] : 0.0f);
}

// Remainder row i of x (k floats) in PackTile's k order, zero past k: out[kpad].
void PackRest(const float* x, int64_t k, int64_t kpad, float* out) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t b = 0; b < kpad; b += 32) {
    auto mask = [&](int64_t at) { return Mask16(k - at); };
    const __m512 lo = _mm512_maskz_loadu_ps(mask(b), x + b);
    const __m512 hi = _mm512_maskz_loadu_ps(mask(b + 16), x + b + 16);
    _mm512_storeu_ps(out + b, _mm512_permutex2var_ps(lo, even, hi));
    _mm512_storeu_ps(out + b + 16, _mm512_permutex2var_ps(lo, odd, hi));
  }
}

// Packs x into this thread's scratch (its tiles in parallel); the pool's threads read it.
Packed PackX(const float* x, int64_t m, int64_t k) {
  const int64_t kpad = PaddedK(k), mt = TiledRows(m), tiles = (mt + kTileRows - 1) / kTileRows;
  // The caller's buffer, named through a pointer: the pool's threads have their own thread_locals.
  thread_local AlignedVector<float> xbuf;
  const size_t need = static_cast<size_t>((tiles * kTileRows + m - mt) * kpad);
  if (xbuf.size() < need) xbuf.resize(need);
  float* const xp = xbuf.data();
  float* const rest = xp + tiles * kTileRows * kpad;
  ThreadPool::Global().ParallelFor(tiles + (m > mt ? 1 : 0), 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      if (t < tiles) {
        PackTile(x, mt, k, kpad, t, xp + t * kpad * kTileRows);
      } else {
        for (int64_t i = mt; i < m; ++i) PackRest(x + i * k, k, kpad, rest + (i - mt) * kpad);
      }
    }
  });
  return {xp, rest, kpad, mt};
}

// The group of weight rows [j0, j0 + ncols) of w (n x k), every row tile, into yj (row stride
// ld): for each block of kKb along k, the block converted (into L1) and every row tile's partial
// sums carried in accs (this pool thread's, [tile][2][14][16] floats).
template <typename W>
void Group(const Packed& px, int64_t m, int64_t k, const W* w, int64_t j0, int ncols,
           const float* bias, float* yj, int64_t ld, Next next) {
  const int64_t mt = px.mt, tiles = (mt + kTileRows - 1) / kTileRows, rest = m - mt;
  constexpr int64_t kTileAcc = 2 * kCols * 16, kRowAcc = kCols * 16;
  thread_local AlignedVector<float> wbuf, abuf;
  if (wbuf.size() < static_cast<size_t>(kCols * kKb)) wbuf.resize(static_cast<size_t>(kCols * kKb));
  const size_t acc_need = static_cast<size_t>(tiles * kTileAcc + rest * kRowAcc);
  if (abuf.size() < acc_need) abuf.resize(acc_need);
  float* const wf = wbuf.data();
  float* const accs = abuf.data();
  float* const rest_accs = accs + tiles * kTileAcc;
  for (int64_t k0 = 0; k0 < px.kpad; k0 += kKb) {
    const int64_t len = std::min(kKb, px.kpad - k0);
    ConvertBlock(w + j0 * k, k, k0, len, ncols, wf);
    for (int64_t t = 0; t < tiles; ++t) {
      const float* xc = px.data + t * px.kpad * kTileRows + k0 * kTileRows;
      // The block converted next: this group's at k0 + kKb, or the next group's first.
      Next pf;
      if (t == 0)
        pf = k0 + kKb < px.kpad ? Next{reinterpret_cast<const char*>(w + j0 * k + k0 + kKb),
                                       static_cast<int64_t>(k * sizeof(W)), sizeof(W), ncols}
                                : next;
      if (mt - t * kTileRows > 16)
        TilePart<2>(xc, wf, len, accs + t * kTileAcc, k0 == 0, pf);
      else
        TilePart<1>(xc, wf, len, accs + t * kTileAcc, k0 == 0, pf);
    }
    for (int64_t i = 0; i < rest; i += 2) {
      const float* xr = px.rest + i * px.kpad + k0;
      if (i + 1 < rest)
        DotPart<2>(xr, px.kpad, wf, len, rest_accs + i * kRowAcc, k0 == 0);
      else
        DotPart<1>(xr, px.kpad, wf, len, rest_accs + i * kRowAcc, k0 == 0);
    }
  }
  for (int64_t t = 0; t < tiles; ++t)
    StoreTile(accs + t * kTileAcc, mt - t * kTileRows > 16 ? 2 : 1, t * kTileRows, ncols, mt, ld,
              bias, yj);
  for (int64_t i = 0; i < rest; ++i)
    StoreDot(rest_accs + i * kRowAcc, ncols, bias, yj + (mt + i) * ld);
}

// Group j0's successor in w (n rows of k), or none.
template <typename W>
Next NextIn(const W* w, int64_t n, int64_t k, int64_t j0) {
  if (j0 >= n) return {};
  return {reinterpret_cast<const char*>(w + j0 * k), static_cast<int64_t>(k * sizeof(W)), sizeof(W),
          static_cast<int>(std::min<int64_t>(kCols, n - j0))};
}

template <typename W>
void Product(const Packed& px, int64_t m, int64_t k, const W* wd, int64_t n, const float* bias,
             float* y) {
  ThreadPool::Global().ParallelFor((n + kCols - 1) / kCols, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t j0 = g * kCols;
      const int ncols = static_cast<int>(std::min<int64_t>(kCols, n - j0));
      Group(px, m, k, wd, j0, ncols, bias ? bias + j0 : nullptr, y + j0, n,
            g + 1 < g1 ? NextIn(wd, n, k, j0 + kCols) : Next{});
    }
  });
}

}  // namespace

bool F32SmallFits(int64_t m, int64_t k) {
  const int64_t mt = TiledRows(m), tiles = (mt + kTileRows - 1) / kTileRows;
  return (tiles * kTileRows + m - mt) * PaddedK(k) * 4 <= kF32SmallMaxXBytes;
}

bool F32SmallChosen(int64_t m, int64_t k) {
  if (m < kF32SmallMinRows || !F32SmallFits(m, k)) return false;
  return m < kGemmMinRowsAvx512Bf16 || (m <= kF32SmallMaxRows && k >= kF32SmallMinK);
}

void GemmAvx512Bf16F32Small(const float* x, int64_t m, int64_t k, const TensorView& w,
                            const float* bias, float* y) {
  DSVL2_CHECK_MSG((w.dtype == DType::kBF16 || w.dtype == DType::kF32) && m >= 1 && k >= 1,
                  "GemmAvx512Bf16F32Small: bf16 or f32 weights");
  const Packed px = PackX(x, m, k);
  if (w.dtype == DType::kBF16)
    Product(px, m, k, static_cast<const uint16_t*>(w.data), w.dim(0), bias, y);
  else
    Product(px, m, k, static_cast<const float*>(w.data), w.dim(0), bias, y);
}

void SwiGluAvx512Bf16F32Small(const float* x, int64_t m, int64_t k, const TensorView& gate,
                              const TensorView& up, float* out) {
  DSVL2_CHECK_MSG(gate.dtype == DType::kBF16 && up.dtype == DType::kBF16 && m >= 1 && k >= 1,
                  "SwiGluAvx512Bf16F32Small: bf16 weights");
  const int64_t n = gate.dim(0);
  const Packed px = PackX(x, m, k);
  const uint16_t* g = static_cast<const uint16_t*>(gate.data);
  const uint16_t* u = static_cast<const uint16_t*>(up.data);
  ThreadPool::Global().ParallelFor((n + kCols - 1) / kCols, 1, [&](int64_t g0, int64_t g1) {
    // up's outputs of one group, [m][16] (per pool thread).
    thread_local std::vector<float> ubuf;
    if (ubuf.size() < static_cast<size_t>(m * 16)) ubuf.resize(static_cast<size_t>(m * 16));
    float* const ub = ubuf.data();
    for (int64_t gi = g0; gi < g1; ++gi) {
      const int64_t j0 = gi * kCols;
      const int ncols = static_cast<int>(std::min<int64_t>(kCols, n - j0));
      Group(px, m, k, g, j0, ncols, nullptr, out + j0, n, NextIn(u, n, k, j0));
      Group(px, m, k, u, j0, ncols, nullptr, ub, 16,
            gi + 1 < g1 ? NextIn(g, n, k, j0 + kCols) : Next{});
      SiluTimesRows(out + j0, n, ub, 16, m, ncols);
    }
  });
}

}  // namespace dsvl2::kernels::cpu
