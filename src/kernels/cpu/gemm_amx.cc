// AMX (Advanced Matrix Extensions) GEMM for bf16 weights and many input rows (prefill, vision):
// y[m, n] = x[m, k] · w[n, k]^T + bias with the tile multiply TDPBF16PS.
//
// Numerics. The weights are bf16 already, so w is exact in a bf16 tile. Each activation is split
// into `terms` bf16 parts, x = x_1 + x_2 + ... + residual (x_1 = bf16(x), x_2 = bf16(x - x_1), ...),
// and every part is multiplied with the same weight tile, products accumulated in f32. bf16 keeps
// 8 significant bits, so the residual of t parts is at most 2^(-8t) |x|: one part is PyTorch's
// bf16 autocast (2^-8 per product), two parts 2^-16 (on N(0,1) data ~1e-7 of sum |x w| rms, 20x
// the f32 GEMM's own rounding noise), three parts (the default, kAmxBf16Terms) 2^-24, the
// rounding of x to f32 itself: the f32 GEMM's accuracy, so results do not depend on whether a
// product had enough rows to take this path (KV decode == recompute, chunked == one-pass prefill
// stay within f32 noise).
//
// Formulation. The products are computed transposed, C'[j, i] = sum_k w[j, k] x[i, k], so the
// weight is the tile multiply's row operand and is read in place from the (memory-mapped)
// checkpoint with a row stride: no weight packing. The activations are the column operand, packed
// once per call into tiles of 16 pairs x 16 rows x 2 (the "VNNI" layout the instruction needs).
// k is taken in chunks of 32; a last, partial chunk is zero-padded: the activations when packed,
// the weights copied per column block (a tile load must not read past the end of a row). It had
// been added in f32 with AVX-512 when results were stored, which cost more than the tile products
// where k is short (attention's Q K^T at k = 72: 8 of 72 k took most of the product's time).
//
// Blocking. 8 tile registers: 4 accumulators (2 x 16 weight rows by 2 x 16 input rows), 2 weight
// tiles, 2 activation tiles (reloaded for each part). Threads split the output columns in blocks
// of 32; each thread takes groups of blocks whose weights fit in L2 and, for every 32 input rows,
// walks k in long slabs, keeping the accumulators of the group in a per-thread buffer between
// slabs. Tiles are not renamed, so a tile load waits for the products still reading that tile:
// this pattern reached ~0.5-0.65 of the instruction's peak in a loop with every operand in L1
// (on the 2-vCPU Xeon of docs/benchmarks/2026-12-01). The hot path allocates nothing after the
// first call (per-thread scratch).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "base/aligned.h"
#include "base/thread_pool.h"
#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/exp_avx512.h"
#include "kernels/cpu/mask_avx512.h"
#include "kernels/cpu/transpose_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int kRows = 16;       // rows of a tile
constexpr int kChunk = 32;      // k per tile step: 32 bf16 = one 64-byte tile row
constexpr int kBlock = 32;      // output columns (weight rows) per accumulator block
constexpr int kTileElems = 16 * 32;  // bf16 elements in one 1 KiB tile

inline __m512 Bf16x16ToF32(__m256i h) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// The activations of one call: input rows in blocks of 16 (zero rows past m), k in full chunks.
// Tile (block ib, chunk c, part t) at data + ((ib * chunks + c) * terms + t) * kTileElems holds
// element [p][i][e] = part t of x[16 ib + i, 32 c + 2 p + e].
struct PackedActs {
  const uint16_t* data;
  int64_t chunks;
  int terms;
  const uint16_t* Tile(int64_t ib, int64_t c, int t) const {
    return data + ((ib * chunks + c) * terms + t) * kTileElems;
  }
};

void PackBlock(const float* x, int64_t m, int64_t k, int64_t ib, int64_t chunks, int terms,
               uint16_t* out) {
  for (int64_t c = 0; c < chunks; ++c) {
    __m512 parts[3][16];
    for (int i = 0; i < kRows; ++i) {
      const int64_t row = ib * kRows + i;
      __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
      if (row < m) {  // k past the end (the last, partial chunk) as zeros
        const int64_t left = k - c * kChunk;
        lo = _mm512_maskz_loadu_ps(Mask16(left), x + row * k + c * kChunk);
        hi = _mm512_maskz_loadu_ps(Mask16(left - 16), x + row * k + c * kChunk + 16);
      }
      for (int t = 0; t < terms; ++t) {
        const __m512bh b = _mm512_cvtne2ps_pbh(hi, lo);  // elements 0..31 of the part, in order
        parts[t][i] = _mm512_castsi512_ps(reinterpret_cast<__m512i>(b));
        if (t + 1 < terms) {  // the residual for the next part
          const __m512i bi = reinterpret_cast<__m512i>(b);
          lo = _mm512_sub_ps(lo, Bf16x16ToF32(_mm512_castsi512_si256(bi)));
          hi = _mm512_sub_ps(hi, Bf16x16ToF32(_mm512_extracti64x4_epi64(bi, 1)));
        }
      }
    }
    for (int t = 0; t < terms; ++t) {
      Transpose16(parts[t]);  // row i of 16 pairs -> row p of 16 inputs
      uint16_t* dst = out + (c * terms + t) * kTileElems;
      for (int p = 0; p < kRows; ++p) _mm512_storeu_ps(reinterpret_cast<float*>(dst) + p * 16, parts[t][p]);
    }
  }
}

struct Problem {
  const float* x;
  int64_t m, k, n;
  const uint16_t* w;
  const float* bias;
  float* y;
  PackedActs acts;
  int64_t row_pairs;   // blocks of 32 input rows
  bool gelu;           // y = gelu_tanh(x w^T + bias)
};

// Per-thread scratch, grown once.
struct Scratch {
  AlignedVector<float> acc;       // accumulators of a column group: 4 tiles per block
  AlignedVector<uint16_t> wpad;   // the last, partial column block with zero rows
  AlignedVector<uint16_t> wtail;  // the group's weights past the last full chunk: [block][32][32]
  template <typename T>
  static T* Grow(AlignedVector<T>& v, size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
  }
};

// Stores the 4 accumulator tiles of column block jb, input rows [32 ip, 32 ip + 32): transposed
// back to y[i, j], plus the bias.
void StoreBlock(const Problem& pr, int64_t jb, int64_t ip, const float* acc) {
  for (int js = 0; js < 2; ++js) {
    const int64_t j0 = jb * kBlock + js * kRows;
    if (j0 >= pr.n) continue;
    const int ncols = static_cast<int>(std::min<int64_t>(kRows, pr.n - j0));
    const __mmask16 cmask = static_cast<__mmask16>((1u << ncols) - 1);
    const __m512 bias = pr.bias ? _mm512_maskz_loadu_ps(cmask, pr.bias + j0) : _mm512_setzero_ps();
    for (int is = 0; is < 2; ++is) {
      const int64_t i0 = ip * kBlock + is * kRows;
      if (i0 >= pr.m) continue;
      const float* tile = acc + (js * 2 + is) * 256;  // C'[jj][ii]
      __m512 r[16];
      for (int jj = 0; jj < kRows; ++jj) r[jj] = _mm512_loadu_ps(tile + jj * 16);
      Transpose16(r);  // r[ii] = C'[0..16][ii]
      const int nrows = static_cast<int>(std::min<int64_t>(kRows, pr.m - i0));
      if (pr.gelu)
        for (int ii = 0; ii < nrows; ++ii)
          _mm512_mask_storeu_ps(pr.y + (i0 + ii) * pr.n + j0, cmask,
                                GeluTanh16(_mm512_add_ps(r[ii], bias)));
      else
        for (int ii = 0; ii < nrows; ++ii)
          _mm512_mask_storeu_ps(pr.y + (i0 + ii) * pr.n + j0, cmask, _mm512_add_ps(r[ii], bias));
    }
  }
}

template <int T>
void RunColumns(const Problem& pr, int64_t jb_begin, int64_t jb_end) {
  thread_local Scratch s;
  // chunks: every chunk of 32 k, the last one partial when tail > 0 (its weights copied, zero
  // padded, into wtail: a tile load must not read past a row).
  const int64_t k = pr.k, n = pr.n, chunks = pr.acts.chunks, full = k / kChunk, tail = k - full * kChunk;
  const int64_t ld = k * 2;  // weight row stride in bytes
  // A group's weights (32 rows x k bf16 per block) within ~1 MiB of L2, and the activation tiles of
  // a slab (2 blocks x slab chunks x T parts x 1 KiB = 128 KiB) in L2 beside them. Slabs long
  // enough that the accumulators rarely go through memory: storing and reloading them drains the
  // tile pipeline (measured: slabs of 8 chunks ran ~15% slower than 32, and activation tiles in L1
  // gained less than that).
  const int64_t group = std::clamp<int64_t>((int64_t{1} << 20) / (kBlock * k * 2), 1, 16);
  const int64_t slab = 64 / T;
  float* acc = Scratch::Grow(s.acc, static_cast<size_t>(group * 4 * 256));
  uint16_t* wtail = Scratch::Grow(s.wtail, static_cast<size_t>(group * kBlock * kChunk));
  const int64_t last_block = (n - 1) / kBlock;
  const bool partial_last = (last_block + 1) * kBlock > n;
  ConfigureFullTiles();  // 0..3 accumulators, 4..5 weights, 6..7 activations
  for (int64_t g0 = jb_begin; g0 < jb_end; g0 += group) {
    const int64_t g1 = std::min(jb_end, g0 + group);
    // Weight rows of each block: in place, or the zero-padded copy for a partial last block.
    const uint16_t* wrows[16];
    for (int64_t jb = g0; jb < g1; ++jb) {
      if (jb == last_block && partial_last) {
        uint16_t* pad = Scratch::Grow(s.wpad, static_cast<size_t>(kBlock * k));
        const int64_t valid = n - jb * kBlock;
        std::memcpy(pad, pr.w + jb * kBlock * k, static_cast<size_t>(valid * k) * 2);
        std::memset(pad + valid * k, 0, static_cast<size_t>((kBlock - valid) * k) * 2);
        wrows[jb - g0] = pad;
      } else {
        wrows[jb - g0] = pr.w + jb * kBlock * k;
      }
      if (tail > 0) {
        uint16_t* wt = wtail + (jb - g0) * kBlock * kChunk;
        for (int c = 0; c < kBlock; ++c) {
          std::memcpy(wt + c * kChunk, wrows[jb - g0] + c * k + full * kChunk, static_cast<size_t>(tail) * 2);
          std::memset(wt + c * kChunk + tail, 0, static_cast<size_t>(kChunk - tail) * 2);
        }
      }
    }
    for (int64_t ip = 0; ip < pr.row_pairs; ++ip) {
      for (int64_t s0 = 0; s0 < chunks; s0 += slab) {
        const int64_t s1 = std::min(chunks, s0 + slab);
        for (int64_t jb = g0; jb < g1; ++jb) {
          float* a = acc + (jb - g0) * 4 * 256;
          if (s0 == 0) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
          } else {
            _tile_loadd(0, a, 64);
            _tile_loadd(1, a + 256, 64);
            _tile_loadd(2, a + 512, 64);
            _tile_loadd(3, a + 768, 64);
          }
          const uint16_t* w0 = wrows[jb - g0];
          const uint16_t* w1 = w0 + kRows * k;
          const uint16_t* t0 = wtail + (jb - g0) * kBlock * kChunk;
          const uint16_t* t1 = t0 + kRows * kChunk;
          for (int64_t c = s0; c < s1; ++c) {
            // The weight rows two chunks ahead into L1: 32 row streams of 64 bytes each are too
            // many for the hardware prefetchers, and a tile load waits for all 16 of its lines.
            if (c + 2 < full)
              for (int r = 0; r < kRows; ++r) {
                _mm_prefetch(reinterpret_cast<const char*>(w0 + r * k + (c + 2) * kChunk), _MM_HINT_T0);
                _mm_prefetch(reinterpret_cast<const char*>(w1 + r * k + (c + 2) * kChunk), _MM_HINT_T0);
              }
            if (c < full) {
              _tile_loadd(4, w0 + c * kChunk, ld);
              _tile_loadd(5, w1 + c * kChunk, ld);
            } else {
              _tile_loadd(4, t0, kChunk * 2);
              _tile_loadd(5, t1, kChunk * 2);
            }
            for (int t = 0; t < T; ++t) {
              _tile_loadd(6, pr.acts.Tile(2 * ip, c, t), 64);
              _tile_loadd(7, pr.acts.Tile(2 * ip + 1, c, t), 64);
              _tile_dpbf16ps(0, 4, 6);
              _tile_dpbf16ps(1, 4, 7);
              _tile_dpbf16ps(2, 5, 6);
              _tile_dpbf16ps(3, 5, 7);
            }
          }
          _tile_stored(0, a, 64);
          _tile_stored(1, a + 256, 64);
          _tile_stored(2, a + 512, 64);
          _tile_stored(3, a + 768, 64);
          if (s1 == chunks) StoreBlock(pr, jb, ip, a);
        }
      }
    }
  }
  _tile_release();
}

}  // namespace

void GemmAmxBf16(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                 float* y, int terms, bool gelu) {
  const int64_t n = w.dim(0), chunks = (k + kChunk - 1) / kChunk;
  const int64_t row_pairs = (m + kBlock - 1) / kBlock, blocks = 2 * row_pairs;
  thread_local AlignedVector<uint16_t> packed;
  const size_t need = static_cast<size_t>(blocks * chunks * terms * kTileElems);
  if (packed.size() < need) packed.resize(need);
  uint16_t* acts = packed.data();
  ThreadPool& pool = ThreadPool::Global();
  pool.ParallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t ib = b0; ib < b1; ++ib) {
      PackBlock(x, m, k, ib, chunks, terms, acts + ib * chunks * terms * kTileElems);
    }
  });
  const Problem pr{x, m, k, n, static_cast<const uint16_t*>(w.data), bias, y,
                   PackedActs{acts, chunks, terms}, row_pairs, gelu};
  pool.ParallelFor((n + kBlock - 1) / kBlock, 1, [&](int64_t b0, int64_t b1) {
    switch (terms) {
      case 1: return RunColumns<1>(pr, b0, b1);
      case 2: return RunColumns<2>(pr, b0, b1);
      default: return RunColumns<3>(pr, b0, b1);
    }
  });
}

namespace {
bool TakesTiles(int64_t m, int64_t k, const TensorView& w) {
  return w.dtype == DType::kBF16 && m >= kAmxMinRows && k >= kChunk;
}
int Terms() { return GetMatMulPrecision() == MatMulPrecision::kMedium ? 1 : kAmxBf16Terms; }
}  // namespace

void MatMulAmx(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
               float* y) {
  if (TakesTiles(m, k, w)) return GemmAmxBf16(x, m, k, w, bias, y, Terms());
  MatMulAvx512(x, m, k, w, bias, y);
}

bool MatMulGeluTanhAmx(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                       float* y) {
  if (!TakesTiles(m, k, w)) return false;
  GemmAmxBf16(x, m, k, w, bias, y, Terms(), /*gelu=*/true);
  return true;
}

}  // namespace dsvl2::kernels::cpu
