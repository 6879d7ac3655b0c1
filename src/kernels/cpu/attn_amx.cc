// AttendMany's block at medium precision on AMX (kernels.h, attend_bf16): S = Q K^T, the row
// softmax and O = P V with the tile multiply TDPBF16PS, every operand rounded to bf16 (nearest
// even), f32 accumulation, the softmax in f32 (SoftmaxRowAvx512).
//
// Why not MatMul: as a MatMul against a gathered K (the "weight"), S came out of the tile GEMM
// transposed (C' = K Q^T, transposed back 16 x 16 when stored), P was transposed again when
// packed as the GEMM's activations, and K and V^T were gathered element by element: for a SigLIP
// head (729 keys x 72) those cost more than the tile products (docs/benchmarks/2026-12-04-amx-
// align). Here the query side is the tile multiply's row operand, so C[i, j] is the output's own
// layout and is stored straight from the tiles; the key side is packed once per call from the
// key rows: K with a 16 x 16 transpose of bf16 pairs (a tile row holds one pair of k for 16
// keys), V with none (a tile row holds 16 values of two consecutive keys, interleaved). Each
// thread then takes 32 query rows at a time through both products and the softmax, so their
// scores (93 KiB for 729 keys) and probabilities stay in its L2.
#include <immintrin.h>

#include <algorithm>

#include "base/aligned.h"
#include "base/thread_pool.h"
#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/attn.h"
#include "kernels/cpu/mask_avx512.h"
#include "kernels/cpu/transpose_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int kRows = 16;            // rows of a tile
constexpr int kChunk = 32;           // k per tile step
constexpr int kTileElems = 16 * 32;  // bf16 elements in one 1 KiB tile

// 32 floats from src (elements past `left` as zeros) as 32 bf16 in order.
inline __m512i Bf16x32(const float* src, int64_t left) {
  const __m512 lo = _mm512_maskz_loadu_ps(Mask16(left), src);
  const __m512 hi = _mm512_maskz_loadu_ps(Mask16(left - 16), src + 16);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

// The key side B[j, k] (j < n, k < len; zero elsewhere) as tiles: tile (block jb of 16 j, chunk
// c) at out + (jb * chunks + c) * kTileElems holds element [p][jj][e] = B[16 jb + jj][32 c + 2 p + e].
struct PackedB {
  const uint16_t* data;
  int64_t blocks;  // of 16 j, even (a zero block past the end)
  int64_t chunks;
  const uint16_t* Tile(int64_t jb, int64_t c) const { return data + (jb * chunks + c) * kTileElems; }
};

// B[j, k] = rows[j][off + k]: the keys of S = Q K^T (j a key, k < dk).
void PackKeys(const float* const* rows, int64_t off, int64_t n, int64_t len, int64_t jb,
              int64_t chunks, uint16_t* out) {
  for (int64_t c = 0; c < chunks; ++c) {
    __m512 r[16];
    for (int jj = 0; jj < kRows; ++jj) {
      const int64_t j = jb * kRows + jj;
      r[jj] = j < n ? _mm512_castsi512_ps(Bf16x32(rows[j] + off + c * kChunk, len - c * kChunk))
                    : _mm512_setzero_ps();
    }
    Transpose16(r);  // row jj of 16 pairs -> row p of 16 keys
    for (int p = 0; p < kRows; ++p)
      _mm512_store_ps(reinterpret_cast<float*>(out + c * kTileElems) + p * 16, r[p]);
  }
}

// B[j, k] = rows[k][off + j]: the values of O = P V (j < dv, k a key).
void PackValues(const float* const* rows, int64_t off, int64_t n, int64_t len, int64_t jb,
                int64_t chunks, uint16_t* out) {
  alignas(64) static constexpr uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                          21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                          11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i idx = _mm512_load_si512(kInterleave);
  const int64_t j0 = jb * kRows;
  const __mmask16 jmask = Mask16(n - j0);
  for (int64_t c = 0; c < chunks; ++c)
    for (int p = 0; p < kRows; ++p) {
      const int64_t k0 = c * kChunk + 2 * p;
      const __m512 a = k0 < len ? _mm512_maskz_loadu_ps(jmask, rows[k0] + off + j0) : _mm512_setzero_ps();
      const __m512 b = k0 + 1 < len ? _mm512_maskz_loadu_ps(jmask, rows[k0 + 1] + off + j0) : _mm512_setzero_ps();
      const __m512i ab = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(b, a));  // a[0..16) b[0..16)
      _mm512_store_si512(out + c * kTileElems + p * 32, _mm512_permutexvar_epi16(idx, ab));
    }
}

// B for n rows j and len columns k into *buf, pack(jb, chunks, out) writing block jb, on the pool.
template <typename Pack>
PackedB PackAll(int64_t n, int64_t len, AlignedVector<uint16_t>* buf, Pack pack) {
  const int64_t blocks = ((n + 2 * kRows - 1) / (2 * kRows)) * 2, chunks = (len + kChunk - 1) / kChunk;
  const size_t need = static_cast<size_t>(blocks * chunks * kTileElems);
  if (buf->size() < need) buf->resize(need);
  uint16_t* data = buf->data();
  ThreadPool::Global().ParallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t jb = b0; jb < b1; ++jb) pack(jb, chunks, data + jb * chunks * kTileElems);
  });
  return PackedB{data, blocks, chunks};
}

// Accumulator tile t (0..3; the intrinsic takes the register as a literal) to memory.
inline void StoreAcc(int t, float* p, int64_t stride_bytes) {
  switch (t) {
    case 0: _tile_stored(0, p, stride_bytes); break;
    case 1: _tile_stored(1, p, stride_bytes); break;
    case 2: _tile_stored(2, p, stride_bytes); break;
    default: _tile_stored(3, p, stride_bytes); break;
  }
}

// Accumulator tile t to c (row stride c_stride): straight from the tile when all 16 x 16 are
// inside, else through a scratch tile, rows_left x cols_left of it.
void StoreTile(int t, float* c, int64_t c_stride, int64_t rows_left, int64_t cols_left) {
  if (rows_left >= kRows && cols_left >= kRows) {
    StoreAcc(t, c, c_stride * 4);
    return;
  }
  alignas(64) float tile[256];
  StoreAcc(t, tile, 64);
  const __mmask16 cmask = Mask16(cols_left);
  for (int64_t i = 0; i < std::min<int64_t>(rows_left, kRows); ++i)
    _mm512_mask_storeu_ps(c + i * c_stride, cmask, _mm512_load_ps(tile + i * 16));
}

// A[r, k] = bf16(a[r * a_stride + k]) for r < avail, k < len; zero elsewhere: 32 rows into out,
// row stride kp (a multiple of 32).
void RoundRows(const float* a, int64_t a_stride, int64_t avail, int64_t len, int64_t kp, uint16_t* out) {
  for (int r = 0; r < 2 * kRows; ++r)
    for (int64_t ch = 0; ch < kp / kChunk; ++ch)
      _mm512_store_si512(out + r * kp + ch * kChunk,
                         r < avail ? Bf16x32(a + r * a_stride + ch * kChunk, len - ch * kChunk)
                                   : _mm512_setzero_si512());
}

// C[i, j] = sum_k A[i, k] B[j, k] for the 32 rows of A at `at` (row stride b.chunks * 32) and
// columns j < n: rows_left (>= 1) of them stored to c (row stride c_stride).
void RowPair(const uint16_t* at, const PackedB& b, int64_t n, float* c, int64_t c_stride,
             int64_t rows_left) {
  const int64_t kp = b.chunks * kChunk;
  for (int64_t jp = 0; jp < b.blocks / 2; ++jp) {
    const int64_t j0 = jp * 2 * kRows;
    if (j0 >= n) break;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t ch = 0; ch < b.chunks; ++ch) {
      _tile_loadd(4, at + ch * kChunk, kp * 2);
      _tile_loadd(5, at + kRows * kp + ch * kChunk, kp * 2);
      _tile_loadd(6, b.Tile(2 * jp, ch), 64);
      _tile_loadd(7, b.Tile(2 * jp + 1, ch), 64);
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    float* out = c + j0;
    const int64_t rl = rows_left, cl = n - j0;
    StoreTile(0, out, c_stride, rl, cl);
    if (cl > kRows) StoreTile(1, out + kRows, c_stride, rl, cl - kRows);
    if (rl > kRows) {
      StoreTile(2, out + kRows * c_stride, c_stride, rl - kRows, cl);
      if (cl > kRows) StoreTile(3, out + kRows * c_stride + kRows, c_stride, rl - kRows, cl - kRows);
    }
  }
}

}  // namespace

void AttendAmx(const float* q, int64_t q_stride, int64_t rows, int dk, const float* const* key_rows,
               int64_t k_offset, int64_t v_offset, int dv, int64_t keys, const int64_t* lens,
               float scale, float* out, int64_t out_stride) {
  thread_local AlignedVector<uint16_t> kbuf, vbuf;
  const PackedB kt = PackAll(keys, dk, &kbuf, [&](int64_t jb, int64_t chunks, uint16_t* o) {
    PackKeys(key_rows, k_offset, keys, dk, jb, chunks, o);
  });
  const PackedB vt = PackAll(dv, keys, &vbuf, [&](int64_t jb, int64_t chunks, uint16_t* o) {
    PackValues(key_rows, v_offset, dv, keys, jb, chunks, o);
  });
  // Per pair of 16-row query blocks, on one thread: S's 32 rows into scratch (columns padded to
  // whole tiles, so every tile is stored whole), the row softmax there, P rounded, O = P V.
  const int64_t s_stride = kt.blocks * kRows;
  ThreadPool::Global().ParallelFor((rows + 2 * kRows - 1) / (2 * kRows), 1, [&](int64_t p0, int64_t p1) {
    thread_local AlignedVector<uint16_t> qa, pa;
    thread_local AlignedVector<float> sbuf;
    const int64_t qkp = kt.chunks * kChunk, vkp = vt.chunks * kChunk;
    if (qa.size() < static_cast<size_t>(2 * kRows * qkp)) qa.resize(static_cast<size_t>(2 * kRows * qkp));
    if (pa.size() < static_cast<size_t>(2 * kRows * vkp)) pa.resize(static_cast<size_t>(2 * kRows * vkp));
    if (sbuf.size() < static_cast<size_t>(2 * kRows * s_stride)) sbuf.resize(static_cast<size_t>(2 * kRows * s_stride));
    ConfigureFullTiles();  // 0..3 accumulators, 4..5 A, 6..7 B
    for (int64_t ip = p0; ip < p1; ++ip) {
      const int64_t i0 = ip * 2 * kRows, in_pair = std::min<int64_t>(2 * kRows, rows - i0);
      RoundRows(q + i0 * q_stride, q_stride, in_pair, dk, qkp, qa.data());
      RowPair(qa.data(), kt, s_stride, sbuf.data(), s_stride, 2 * kRows);
      for (int64_t r = 0; r < in_pair; ++r) SoftmaxRowAvx512(sbuf.data() + r * s_stride, lens[i0 + r], keys, scale);
      RoundRows(sbuf.data(), s_stride, in_pair, keys, vkp, pa.data());
      RowPair(pa.data(), vt, dv, out + i0 * out_stride, out_stride, in_pair);
    }
    _tile_release();
  });
}

}  // namespace dsvl2::kernels::cpu
