// AVX-512-BF16 product for bf16 weights from 16 input rows while x fits kBf16SmallMaxXBytes, at
// MatMulPrecision::kMedium: the numerics of gemm_bf16_avx512.cc (activations rounded to bf16, bf16
// pairs accumulated in f32 by vdpbf16ps) without packing the weights. With few rows the packed
// GEMM's weight packing (a 16 x 16 transpose per 256 pairs) costs about as much as the products
// it feeds (26% of the micro-kernels' time in a 512-token prefill, most of it for the experts'
// 16-100 rows, perf on docs/benchmarks/2026-12-02b).
//
// Formulation: the product is computed transposed, y^T[j, i] = sum_k w[j, k] x[i, k], so the
// weight is the broadcast operand, read in place: one 32-bit load gives a bf16 pair of weight
// row j, broadcast to every lane. The activations are packed once per call into tiles of 32
// rows ([pair][32 rows], 32-bit pairs, zero rows past m). The register tile is 14 weight rows x
// 32 input rows (28 zmm accumulators; 16-row tiles for the last rows), over all of k at once;
// at the end it is transposed back (16 x 16 in registers) and stored with the bias. An odd k adds
// its last element in f32 from the bf16-rounded activation. Threads split the weight rows in
// groups of 14; the 14 rows of a group (k x 28 bytes) stay in L1/L2 while every row tile reads
// them.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "base/half.h"
#include "base/logging.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/gemm_avx512_parts.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int kCols = 14;      // weight rows (output columns) per register tile
constexpr int kTileRows = 32;  // input rows per packed tile
typedef uint32_t __attribute__((may_alias, aligned(1))) U32Alias;

struct Packed {
  const uint32_t* data;  // [tile][pairs][32]
  const float* last;     // [tile][32]: bf16-rounded x[i, k - 1] when k is odd
  int64_t pairs;
};

void PackTile(const float* x, int64_t m, int64_t k, int64_t t, int64_t pairs, uint32_t* out,
              float* last) {
  for (int half = 0; half < 2; ++half) {
    const int64_t r0 = t * kTileRows + half * 16;
    const int rows = static_cast<int>(std::clamp<int64_t>(m - r0, 0, 16));
    int64_t q = 0;
    for (; q + 16 <= pairs; q += 16) {
      __m512 r[16];
      Bf16PairsTransposed(x + r0 * k + 2 * q, k, rows, r);
      for (int p = 0; p < 16; ++p)
        _mm512_storeu_ps(reinterpret_cast<float*>(out + (q + p) * kTileRows + half * 16), r[p]);
    }
    for (; q < pairs; ++q)
      for (int i = 0; i < 16; ++i) {
        uint32_t v = 0;
        if (i < rows) {
          const float* row = x + (r0 + i) * k;
          v = Bf16Pair(row[2 * q], row[2 * q + 1]);
        }
        out[q * kTileRows + half * 16 + i] = v;
      }
    for (int i = 0; i < 16; ++i)
      last[half * 16 + i] =
          (k & 1) && i < rows ? Bf16ToF32(F32ToBf16(x[(r0 + i) * k + k - 1])) : 0.0f;
  }
}

// y[i0 + l, j0 + c] (+ bias) for rows l < NH * 16 of tile t, columns c < ncols, stored at
// yj[(i0 + l) * ld + c] (yj: column j0 of the output rows). The first row tile (t == 0) also
// prefetches the next group's kCols weight rows at the same k (`next`, nullptr past the last
// group): its weights come from memory (an expert with 16-100 rows reads each once), and the +256
// lookahead alone left each group's first 512 bytes per row to demand misses, 14 rows at once.
template <int NH>
void Tile(const Packed& px, int64_t t, const uint16_t* w, int64_t k, int64_t j0, int ncols,
          int64_t m, int64_t ld, const float* bias, float* yj, const uint16_t* next) {
  const uint16_t* wr[kCols];
  for (int c = 0; c < kCols; ++c) wr[c] = w + (j0 + std::min(c, ncols - 1)) * k;
  // Every loop over acc is fully unrolled so that it stays in registers.
  __m512 acc[NH][kCols];
#pragma GCC unroll 2
  for (int h = 0; h < NH; ++h)
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c) acc[h][c] = _mm512_setzero_ps();
  const uint32_t* xt = px.data + t * px.pairs * kTileRows;
  for (int64_t q = 0; q < px.pairs; ++q) {
    if ((q & 15) == 0) {
      for (int c = 0; c < kCols; ++c)
        _mm_prefetch(reinterpret_cast<const char*>(wr[c] + 2 * q + 256), _MM_HINT_T0);
      if (next)
        for (int c = 0; c < kCols; ++c)
          _mm_prefetch(reinterpret_cast<const char*>(next + c * k + 2 * q), _MM_HINT_T0);
    }
    __m512bh xv[NH];
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h)
      xv[h] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(xt + q * kTileRows + 16 * h));
#pragma GCC unroll 14
    for (int c = 0; c < kCols; ++c) {
      const __m512bh wv = reinterpret_cast<__m512bh>(
          _mm512_set1_epi32(static_cast<int>(*reinterpret_cast<const U32Alias*>(wr[c] + 2 * q))));
#pragma GCC unroll 2
      for (int h = 0; h < NH; ++h) acc[h][c] = _mm512_dpbf16_ps(acc[h][c], wv, xv[h]);
    }
  }
  if (k & 1) {
#pragma GCC unroll 2
    for (int h = 0; h < NH; ++h) {
      const __m512 xl = _mm512_loadu_ps(px.last + t * kTileRows + 16 * h);
#pragma GCC unroll 14
      for (int c = 0; c < kCols; ++c)
        acc[h][c] = _mm512_fmadd_ps(xl, _mm512_set1_ps(Bf16ToF32(wr[c][k - 1])), acc[h][c]);
    }
  }
  const __mmask16 cmask = static_cast<__mmask16>((1u << ncols) - 1);
  const __m512 bv = bias ? _mm512_maskz_loadu_ps(cmask, bias + j0) : _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int h = 0; h < NH; ++h) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int c = 0; c < 16; ++c) r[c] = c < kCols ? acc[h][c] : _mm512_setzero_ps();
    Transpose16(r);  // r[l] = y[i0 + 16 h + l, j0 .. j0 + 15]
    const int64_t i0 = t * kTileRows + 16 * h;
    const int rows = static_cast<int>(std::min<int64_t>(16, m - i0));
    for (int l = 0; l < rows; ++l)
      _mm512_mask_storeu_ps(yj + (i0 + l) * ld, cmask, _mm512_add_ps(r[l], bv));
  }
}


// Packs x into this thread's scratch (its tiles in parallel); the pool's threads read it.
Packed PackX(const float* x, int64_t m, int64_t k) {
  const int64_t pairs = k / 2, tiles = (m + kTileRows - 1) / kTileRows;
  // The caller's buffers, named through pointers: the pool's threads have their own thread_locals.
  thread_local std::vector<uint32_t> xbuf;
  thread_local std::vector<float> lbuf;
  const size_t need = static_cast<size_t>(tiles * std::max<int64_t>(pairs, 1) * kTileRows);
  if (xbuf.size() < need) xbuf.resize(need);
  if (lbuf.size() < static_cast<size_t>(tiles * kTileRows))
    lbuf.resize(static_cast<size_t>(tiles * kTileRows));
  uint32_t* const xp = xbuf.data();
  float* const lp = lbuf.data();
  ThreadPool::Global().ParallelFor(tiles, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      PackTile(x, m, k, t, pairs, xp + t * pairs * kTileRows, lp + t * kTileRows);
  });
  return {xp, lp, pairs};
}

// Every row tile of the group of weight rows [j0, j0 + ncols) of w, into yj (row stride ld).
void Group(const Packed& px, int64_t m, int64_t k, const uint16_t* w, int64_t n, int64_t j0, int ncols,
           const float* bias, float* yj, int64_t ld) {
  const int64_t tiles = (m + kTileRows - 1) / kTileRows;
  // The next group's rows (none past the last full group).
  const uint16_t* next = n - j0 - kCols >= kCols ? w + (j0 + kCols) * k : nullptr;
  for (int64_t t = 0; t < tiles; ++t) {
    const uint16_t* pf = t == 0 ? next : nullptr;
    if (m - t * kTileRows > 16)
      Tile<2>(px, t, w, k, j0, ncols, m, ld, bias, yj, pf);
    else
      Tile<1>(px, t, w, k, j0, ncols, m, ld, bias, yj, pf);
  }
}

}  // namespace

void GemmAvx512Bf16Small(const float* x, int64_t m, int64_t k, const TensorView& w,
                         const float* bias, float* y) {
  DSVL2_CHECK_MSG(w.dtype == DType::kBF16 && m >= 1 && k >= 1, "GemmAvx512Bf16Small: bf16 weights");
  const int64_t n = w.dim(0);
  const Packed px = PackX(x, m, k);
  const uint16_t* wd = static_cast<const uint16_t*>(w.data);
  ThreadPool::Global().ParallelFor((n + kCols - 1) / kCols, 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t j0 = g * kCols;
      const int ncols = static_cast<int>(std::min<int64_t>(kCols, n - j0));
      Group(px, m, k, wd, n, j0, ncols, bias, y + j0, n);
    }
  });
}

void SwiGluAvx512Bf16Small(const float* x, int64_t m, int64_t k, const TensorView& gate,
                           const TensorView& up, float* out) {
  DSVL2_CHECK_MSG(gate.dtype == DType::kBF16 && up.dtype == DType::kBF16 && m >= 1 && k >= 1,
                  "SwiGluAvx512Bf16Small: bf16 weights");
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
      Group(px, m, k, g, n, j0, ncols, nullptr, out + j0, n);
      Group(px, m, k, u, n, j0, ncols, nullptr, ub, 16);
      SiluTimesRows(out + j0, n, ub, 16, m, ncols);
    }
  });
}

}  // namespace dsvl2::kernels::cpu
