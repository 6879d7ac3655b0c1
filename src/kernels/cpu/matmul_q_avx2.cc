// AVX2 matrix product with block-quantized weights: the numerics of ref::MatMulQ. Input rows are
// quantized to int8 per 32-block into a thread_local scratch; one 32-block is one ymm. Block dots
// with vpmaddubsw (u8 x s8 -> s16 pairs) + vpmaddwd: q4_0 nibbles (0..15) are the unsigned
// operand, with -8 x (activation sums) precomputed per lane; q8_0 uses |w| and sign(x, w), which
// cannot saturate (128 x 127 x 2 < 32768). s32 lanes -> f32 times d_w x d_x, accumulated in f32.
// Output columns in tiles of 4 are split over the thread pool; tiles of up to 4 input rows share
// each unpacked weight block.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/half.h"
#include "base/logging.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"

namespace dsvl2::kernels::cpu {
namespace {

struct Act {
  std::vector<int8_t> q;       // [m, k]
  std::vector<int32_t> init;   // [m, k/32, 8] (q4_0 only)
  std::vector<float> scale;    // [m, k/32]
};

template <DType T>
void QuantizeRow(const float* x, int64_t k, Act* a, int64_t i) {
  const int64_t nb = k / kQuantBlock;
  int8_t* q = a->q.data() + i * k;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * 32;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps();
    for (int t = 0; t < 4; ++t) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + 8 * t)));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, mx);
    float amax = 0;
    for (float v : lanes) amax = std::max(amax, v);
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    a->scale[static_cast<size_t>(i * nb + b)] = amax / 127.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i r[4];
    for (int t = 0; t < 4; ++t) r[t] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xb + 8 * t), vid));
    // pack 32 x s32 -> 32 x s8 in order (packs work per 128-bit lane: fix with a permute).
    const __m256i p01 = _mm256_packs_epi32(r[0], r[1]), p23 = _mm256_packs_epi32(r[2], r[3]);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * 32), p);
    if constexpr (T == DType::kQ4_0) {
      int32_t* in = a->init.data() + (i * nb + b) * 8;
      // lane l of the block dot covers weight bytes 4l..4l+3 of [lo nibbles | hi nibbles], i.e.
      // elements 4l..4l+3 in natural order.
      for (int l = 0; l < 8; ++l) in[l] = -8 * (q[b * 32 + 4 * l] + q[b * 32 + 4 * l + 1] + q[b * 32 + 4 * l + 2] +
                                                q[b * 32 + 4 * l + 3]);
    }
  }
}

template <DType T, int NJ, int NI>
void Tile(const Act& a, int64_t i0, int64_t k, const uint8_t* w, size_t row_bytes, int64_t j0,
          int64_t n, const float* bias, float* y) {
  const int64_t nb = k / 32;
  __m256 acc[NJ][NI];
  for (int jj = 0; jj < NJ; ++jj)
    for (int ii = 0; ii < NI; ++ii) acc[jj][ii] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1), nib = _mm256_set1_epi8(0x0f);
  for (int64_t b = 0; b < nb; ++b) {
    for (int jj = 0; jj < NJ; ++jj) {
      const uint8_t* row = w + static_cast<size_t>(j0 + jj) * row_bytes;
      const float dw = _cvtsh_ss(*reinterpret_cast<const uint16_t*>(row + 2 * b));
      if constexpr (T == DType::kQ4_0) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * nb + 16 * b));
        const __m256i wq = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), nib);
        for (int ii = 0; ii < NI; ++ii) {
          const int64_t i = i0 + ii;
          const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q.data() + i * k + 32 * b));
          __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(wq, xv), ones);
          d = _mm256_add_epi32(d, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.init.data() + (i * nb + b) * 8)));
          acc[jj][ii] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(dw * a.scale[static_cast<size_t>(i * nb + b)]),
                                        acc[jj][ii]);
        }
      } else {
        const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * nb + 32 * b));
        const __m256i aw = _mm256_abs_epi8(wq);
        for (int ii = 0; ii < NI; ++ii) {
          const int64_t i = i0 + ii;
          const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q.data() + i * k + 32 * b));
          const __m256i d = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, wq)), ones);
          acc[jj][ii] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(dw * a.scale[static_cast<size_t>(i * nb + b)]),
                                        acc[jj][ii]);
        }
      }
    }
  }
  for (int jj = 0; jj < NJ; ++jj)
    for (int ii = 0; ii < NI; ++ii) {
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, acc[jj][ii]);
      float s = 0;
      for (float v : lanes) s += v;
      y[(i0 + ii) * n + j0 + jj] = s + (bias ? bias[j0 + jj] : 0.0f);
    }
}

template <DType T, int NJ>
void RowTiles(const Act& a, int64_t m, int64_t k, const uint8_t* w, size_t rb, int64_t j0, int64_t n,
              const float* bias, float* y) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) Tile<T, NJ, 4>(a, i, k, w, rb, j0, n, bias, y);
  switch (m - i) {
    case 3: Tile<T, NJ, 3>(a, i, k, w, rb, j0, n, bias, y); break;
    case 2: Tile<T, NJ, 2>(a, i, k, w, rb, j0, n, bias, y); break;
    case 1: Tile<T, NJ, 1>(a, i, k, w, rb, j0, n, bias, y); break;
    default: break;
  }
}

template <DType T>
void Run(const float* x, int64_t m, int64_t k, const TensorView& wv, const float* bias, float* y) {
  const int64_t n = wv.numel() / k, nb = k / 32;
  thread_local Act act;
  if (act.q.size() < static_cast<size_t>(m * k)) act.q.resize(static_cast<size_t>(m * k));
  if (act.scale.size() < static_cast<size_t>(m * nb)) act.scale.resize(static_cast<size_t>(m * nb));
  if (T == DType::kQ4_0 && act.init.size() < static_cast<size_t>(m * nb * 8))
    act.init.resize(static_cast<size_t>(m * nb * 8));
  Act* ap = &act;
  ThreadPool::Global().ParallelFor(m, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) QuantizeRow<T>(x + i * k, k, ap, i);
  });
  const uint8_t* w = static_cast<const uint8_t*>(wv.data);
  const size_t rb = QuantRowBytes(T, k);
  const int64_t tiles = (n + 3) / 4;
  ThreadPool::Global().ParallelFor(tiles, std::max<int64_t>(1, 32768 / (4 * static_cast<int64_t>(rb))),
                                   [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t j = t * 4;
      if (j + 4 <= n) {
        RowTiles<T, 4>(*ap, m, k, w, rb, j, n, bias, y);
      } else {
        for (int64_t jj = j; jj < n; ++jj) RowTiles<T, 1>(*ap, m, k, w, rb, jj, n, bias, y);
      }
    }
  });
}

}  // namespace

void MatMulQAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                 float* y) {
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  if (w.dtype == DType::kQ4_0) return Run<DType::kQ4_0>(x, m, k, w, bias, y);
  return Run<DType::kQ8_0>(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
