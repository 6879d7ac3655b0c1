// AttendMany's block in f32 on AVX-512 (KernelTable::attend_f32): per 32 query rows on one
// thread, their scores against every key, the row softmax, and P V, in the core's caches.
//
// As two MatMuls (the unfused path, still the AVX2 table's), K and V^T were gathered into
// contiguous scratch element by element, the whole S (2 MiB for a SigLIP head) was written,
// re-read by the softmax and read again, packed, by the second product. Here K is transposed once
// per call into blocks of 16 keys ([block][d][16 keys]: one vector of 16 scores per d), the
// scores of 32 rows (94 KiB for 729 keys) stay in L2 through the softmax, and V is read straight
// from the key rows (a row's dv values are contiguous: one vector FMA per key and 16 values).
//
// Numerics: f32 products and sums (FMA), scores over d in order, outputs over keys in order; the
// softmax is SoftmaxRowAvx512, the unfused path's. Same results as the two-MatMul path up to f32
// rounding (a different summation order).
#include <immintrin.h>

#include <algorithm>

#include "base/aligned.h"
#include "base/thread_pool.h"
#include "kernels/cpu/attn.h"
#include "kernels/cpu/mask_avx512.h"
#include "kernels/cpu/transpose_avx512.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int kRows = 32;  // query rows per block (a thread's unit of work)

// kt[(jb * dk + d) * 16 + jj] = k_{16 jb + jj}[d] (zero for keys past n): key block jb.
void PackKeyBlock(const float* const* rows, int64_t off, int64_t n, int dk, int64_t jb, float* kt) {
  for (int d0 = 0; d0 < dk; d0 += 16) {
    const __mmask16 dmask = Mask16(dk - d0);
    __m512 r[16];
    for (int jj = 0; jj < 16; ++jj) {
      const int64_t j = jb * 16 + jj;
      r[jj] = j < n ? _mm512_maskz_loadu_ps(dmask, rows[j] + off + d0) : _mm512_setzero_ps();
    }
    Transpose16(r);  // r[d] = dimension d0 + d of the 16 keys
    for (int d = 0; d < std::min(16, dk - d0); ++d) _mm512_store_ps(kt + (jb * dk + d0 + d) * 16, r[d]);
  }
}

// The raw scores s[r * s_stride + 16 (jb + j) + jj] = q_r . k_{16 (jb + j) + jj} of R query
// rows (q[r]: dk floats each) against J key blocks from jb.
template <int R, int J>
void Scores(const float* const* q, int dk, const float* kt, int64_t jb, float* s, int64_t s_stride) {
  __m512 acc[R][J];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int d = 0; d < dk; ++d) {
    __m512 kv[J];
    for (int j = 0; j < J; ++j) kv[j] = _mm512_load_ps(kt + ((jb + j) * dk + d) * 16);
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(q[r][d]);
      for (int j = 0; j < J; ++j) acc[r][j] = _mm512_fmadd_ps(b, kv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < J; ++j) _mm512_store_ps(s + r * s_stride + (jb + j) * 16, acc[r][j]);
}

// o[r * o_stride + 16 v + e] += sum_{j in [j0, j1)} p[r * p_stride + j] v_j[d0 + 16 v + e] for
// R rows and V vectors of the values from d0 (the last one masked at dv; o is scratch, so the
// masked lanes may hold anything).
template <int R, int V>
void Values(const float* p, int64_t p_stride, int64_t j0, int64_t j1, const float* const* rows,
            int64_t off, int64_t d0, int dv, float* o, int64_t o_stride) {
  __m512 acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_load_ps(o + r * o_stride + 16 * v);
  const __mmask16 last = Mask16(dv - d0 - 16 * (V - 1));
  for (int64_t j = j0; j < j1; ++j) {
    const float* vr = rows[j] + off + d0;
    __m512 vv[V];
    for (int v = 0; v + 1 < V; ++v) vv[v] = _mm512_loadu_ps(vr + 16 * v);
    vv[V - 1] = _mm512_maskz_loadu_ps(last, vr + 16 * (V - 1));
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(p[r * p_stride + j]);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(b, vv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) _mm512_store_ps(o + r * o_stride + 16 * v, acc[r][v]);
}

template <int V>
void ValuesRows(const float* p, int64_t p_stride, int64_t j0, int64_t j1, const float* const* rows,
                int64_t off, int64_t d0, int dv, float* o, int64_t o_stride, int n_rows) {
  for (int r = 0; r < n_rows; r += 4)
    Values<4, V>(p + r * p_stride, p_stride, j0, j1, rows, off, d0, dv, o + r * o_stride, o_stride);
}

}  // namespace

void AttendF32Avx512(const float* q, int64_t q_stride, int64_t rows, int dk, const float* const* key_rows,
                     int64_t k_offset, int64_t v_offset, int dv, int64_t keys, const int64_t* lens,
                     float scale, float* out, int64_t out_stride) {
  const int64_t blocks = (keys + 15) / 16, s_stride = blocks * 16;
  thread_local AlignedVector<float> kt_buf;
  if (kt_buf.size() < static_cast<size_t>(blocks * dk * 16)) kt_buf.resize(static_cast<size_t>(blocks * dk * 16));
  float* kt = kt_buf.data();
  ThreadPool& pool = ThreadPool::Global();
  pool.ParallelFor(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t jb = b0; jb < b1; ++jb) PackKeyBlock(key_rows, k_offset, keys, dk, jb, kt);
  });
  // Per block of kRows query rows: the scores against 32 keys at a time for 8 rows at a time
  // (those keys' transposed block stays in L1 across the row groups), the softmax, then P V over
  // 64 keys at a time for 4 rows and 80 values at a time (those keys' values stay in L1 across
  // the row groups), accumulated in scratch.
  const int64_t o_stride = ((dv + 15) / 16) * 16;
  pool.ParallelFor((rows + kRows - 1) / kRows, 1, [&](int64_t g0, int64_t g1) {
    thread_local AlignedVector<float> s_buf, o_buf;
    if (s_buf.size() < static_cast<size_t>(kRows * s_stride)) s_buf.resize(static_cast<size_t>(kRows * s_stride));
    if (o_buf.size() < static_cast<size_t>(kRows * o_stride)) o_buf.resize(static_cast<size_t>(kRows * o_stride));
    float* s = s_buf.data();
    float* o = o_buf.data();
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t i0 = g * kRows;
      const int live = static_cast<int>(std::min<int64_t>(kRows, rows - i0));
      const int padded = (live + 7) / 8 * 8;  // rows computed: whole groups of 8
      const float* qr[kRows];
      for (int r = 0; r < kRows; ++r) qr[r] = q + (i0 + std::min(r, live - 1)) * q_stride;  // past the end: repeated
      for (int64_t jb = 0; jb < blocks; jb += 2) {
        const bool pair = jb + 1 < blocks;
        for (int r = 0; r < padded; r += 8) {
          if (pair)
            Scores<8, 2>(qr + r, dk, kt, jb, s + r * s_stride, s_stride);
          else
            Scores<8, 1>(qr + r, dk, kt, jb, s + r * s_stride, s_stride);
        }
      }
      for (int r = 0; r < padded; ++r)  // rows past the end: any valid softmax (dropped)
        SoftmaxRowAvx512(s + r * s_stride, lens[i0 + std::min(r, live - 1)], keys, scale);
      std::fill(o, o + padded * o_stride, 0.0f);
      for (int64_t j0 = 0; j0 < keys; j0 += 64) {
        const int64_t j1 = std::min(keys, j0 + 64);
        for (int64_t d0 = 0; d0 < dv; d0 += 80) {
          float* od = o + d0;
          switch (std::min<int64_t>(5, (dv - d0 + 15) / 16)) {
            case 5: ValuesRows<5>(s, s_stride, j0, j1, key_rows, v_offset, d0, dv, od, o_stride, padded); break;
            case 4: ValuesRows<4>(s, s_stride, j0, j1, key_rows, v_offset, d0, dv, od, o_stride, padded); break;
            case 3: ValuesRows<3>(s, s_stride, j0, j1, key_rows, v_offset, d0, dv, od, o_stride, padded); break;
            case 2: ValuesRows<2>(s, s_stride, j0, j1, key_rows, v_offset, d0, dv, od, o_stride, padded); break;
            default: ValuesRows<1>(s, s_stride, j0, j1, key_rows, v_offset, d0, dv, od, o_stride, padded); break;
          }
        }
      }
      for (int r = 0; r < live; ++r) std::copy(o + r * o_stride, o + r * o_stride + dv, out + (i0 + r) * out_stride);
    }
  });
}

}  // namespace dsvl2::kernels::cpu
