// AVX-512 (VNNI) matrix product with block-quantized weights: the numerics of ref::MatMulQ.
// Input rows are quantized to int8 per 32-block once per call into a thread_local scratch laid
// out for the weight format; block dots use vpdpbusd (u8 x s8 -> s32), so the unsigned operand
// is the weight: q4_0 nibbles are 0..15 as stored, q8_0 bytes are flipped to w+128. The
// zero-point terms (-8 resp. -128 times the sum of the activations a lane covers) are
// precomputed per input row and start each lane's accumulation. Per group of 4 blocks (128
// weights): s32 lanes -> f32, times (weight scale x activation scale), accumulated in f32.
// Output columns in tiles of 4 are split over the thread pool; input rows go in chunks of 32
// (their scratch stays in L2) and tiles of up to 4 rows share each unpacked weight group.
// CPUs with AVX-512F/BW but no VNNI use the AVX2 kernel.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/logging.h"
#include "base/quant.h"
#include "base/thread_pool.h"
#include "kernels/cpu/cpu.h"

namespace dsvl2::kernels::cpu {
namespace {

constexpr int64_t kGroup = 128;  // 4 blocks

// Per input row: int8 activations in the kernel's order (kp bytes, kp = k rounded up to 128),
// NH zmm of zero-point corrections and NH zmm of lane scales per group.
using Act = QuantActs;  // layout 1

template <DType T>
constexpr int kNH = T == DType::kQ4_0 ? 1 : 2;  // s32 dot vectors per group

// Quantizes row x[k] into act row i (natural order into `nat`, then laid out for T).
template <DType T>
void QuantizeRow(const float* x, int64_t k, Act* a, int64_t i) {
  const int64_t nb = k / kQuantBlock, kp = a->kp;
  alignas(64) int8_t nat[kGroup];
  alignas(64) float bscale[4];
  int8_t* q = a->q.data() + i * kp;
  int32_t* init = a->init.data() + i * a->groups * kNH<T> * 16;
  float* sc = a->scale.data() + i * a->groups * kNH<T> * 16;
  for (int64_t g = 0; g < a->groups; ++g) {
    for (int c = 0; c < 4; ++c) {
      const int64_t b = g * 4 + c;
      if (b >= nb) {
        std::fill(nat + c * 32, nat + c * 32 + 32, int8_t{0});
        bscale[c] = 0.0f;
        continue;
      }
      const float* xb = x + b * kQuantBlock;
      const __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      const float id = amax > 0 ? 127.0f / amax : 0.0f;
      bscale[c] = amax / 127.0f;
      const __m512 vid = _mm512_set1_ps(id);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(nat + c * 32),
                       _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, vid))));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(nat + c * 32 + 16),
                       _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v1, vid))));
    }
    int8_t* qg = q + g * kGroup;
    int32_t* ig = init + g * kNH<T> * 16;
    float* sg = sc + g * kNH<T> * 16;
    if constexpr (T == DType::kQ4_0) {
      // lo half: [b0 0-15, b1 0-15, b2 0-15, b3 0-15], hi half: elements 16-31 of each block.
      for (int c = 0; c < 4; ++c)
        for (int j = 0; j < 16; ++j) {
          qg[c * 16 + j] = nat[c * 32 + j];
          qg[64 + c * 16 + j] = nat[c * 32 + 16 + j];
        }
      for (int l = 0; l < 16; ++l) {
        int32_t s = 0;
        for (int t = 0; t < 4; ++t) s += qg[4 * l + t] + qg[64 + 4 * l + t];
        ig[l] = -8 * s;
        sg[l] = bscale[l / 4];
      }
    } else {
      std::copy(nat, nat + kGroup, qg);
      for (int h = 0; h < 2; ++h)
        for (int l = 0; l < 16; ++l) {
          int32_t s = 0;
          for (int t = 0; t < 4; ++t) s += qg[64 * h + 4 * l + t];
          ig[h * 16 + l] = -128 * s;
          sg[h * 16 + l] = bscale[2 * h + l / 8];
        }
    }
  }
}

struct WeightRef {
  const uint8_t* data;
  size_t row_bytes;
  int64_t nb, groups;
};

// Columns [j0, j0+NJ) x rows [i0, i0+NI) of y.
template <DType T, int NJ, int NI>
void Tile(const Act& a, int64_t i0, const WeightRef& w, int64_t j0, int64_t n, const float* bias,
          float* y) {
  __m512 acc[NJ][NI];
  for (int jj = 0; jj < NJ; ++jj)
    for (int ii = 0; ii < NI; ++ii) acc[jj][ii] = _mm512_setzero_ps();
  const uint8_t* rows[NJ];
  for (int jj = 0; jj < NJ; ++jj) rows[jj] = w.data + static_cast<size_t>(j0 + jj) * w.row_bytes;
  const int64_t kp = a.kp, ivec = a.groups * kNH<T> * 16;
  const __m512i idx4 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  const __m512i idx8a = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i idx8b = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
  const __m512i nib = _mm512_set1_epi8(0x0f), flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t r = std::min<int64_t>(4, w.nb - 4 * g);  // valid blocks in this group
    const __mmask8 smask = static_cast<__mmask8>((1u << r) - 1);
    for (int jj = 0; jj < NJ; ++jj) {
      const uint8_t* row = rows[jj];
      const __m128 s4 = _mm_cvtph_ps(_mm_maskz_loadu_epi16(smask, row + 8 * g));
      const __m512 s16 = _mm512_castps128_ps512(s4);
      if constexpr (T == DType::kQ4_0) {
        const uint8_t* qp = row + 2 * w.nb + 64 * g;
        const __m512i v = r == 4 ? _mm512_loadu_si512(qp)
                                 : _mm512_maskz_loadu_epi8((__mmask64(1) << (16 * r)) - 1, qp);
        const __m512i lo = _mm512_and_si512(v, nib);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
        const __m512 dw = _mm512_permutexvar_ps(idx4, s16);
        for (int ii = 0; ii < NI; ++ii) {
          const int64_t i = i0 + ii;
          const int8_t* xq = a.q.data() + i * kp + g * kGroup;
          __m512i d = _mm512_loadu_si512(a.init.data() + i * ivec + g * 16);
          d = _mm512_dpbusd_epi32(d, lo, _mm512_loadu_si512(xq));
          d = _mm512_dpbusd_epi32(d, hi, _mm512_loadu_si512(xq + 64));
          const __m512 s = _mm512_mul_ps(dw, _mm512_loadu_ps(a.scale.data() + i * ivec + g * 16));
          acc[jj][ii] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc[jj][ii]);
        }
      } else {
        const uint8_t* qp = row + 2 * w.nb + 128 * g;
        __m512i v0, v1;
        if (r == 4) {
          v0 = _mm512_loadu_si512(qp);
          v1 = _mm512_loadu_si512(qp + 64);
        } else {
          const int bytes = static_cast<int>(32 * r);
          v0 = _mm512_maskz_loadu_epi8(bytes >= 64 ? ~__mmask64(0) : (__mmask64(1) << bytes) - 1, qp);
          v1 = _mm512_maskz_loadu_epi8(bytes > 64 ? (__mmask64(1) << (bytes - 64)) - 1 : __mmask64(0),
                                       qp + 64);
        }
        v0 = _mm512_xor_si512(v0, flip);
        v1 = _mm512_xor_si512(v1, flip);
        const __m512 dw0 = _mm512_permutexvar_ps(idx8a, s16), dw1 = _mm512_permutexvar_ps(idx8b, s16);
        for (int ii = 0; ii < NI; ++ii) {
          const int64_t i = i0 + ii;
          const int8_t* xq = a.q.data() + i * kp + g * kGroup;
          const int32_t* in = a.init.data() + i * ivec + g * 32;
          const float* sc = a.scale.data() + i * ivec + g * 32;
          const __m512i d0 = _mm512_dpbusd_epi32(_mm512_loadu_si512(in), v0, _mm512_loadu_si512(xq));
          const __m512i d1 = _mm512_dpbusd_epi32(_mm512_loadu_si512(in + 16), v1, _mm512_loadu_si512(xq + 64));
          acc[jj][ii] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_mul_ps(dw0, _mm512_loadu_ps(sc)), acc[jj][ii]);
          acc[jj][ii] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), _mm512_mul_ps(dw1, _mm512_loadu_ps(sc + 16)),
                                        acc[jj][ii]);
        }
      }
    }
  }
  for (int jj = 0; jj < NJ; ++jj)
    for (int ii = 0; ii < NI; ++ii)
      y[(i0 + ii) * n + j0 + jj] = _mm512_reduce_add_ps(acc[jj][ii]) + (bias ? bias[j0 + jj] : 0.0f);
}

template <DType T, int NJ>
void RowTiles(const Act& a, int64_t i0, int64_t i1, const WeightRef& w, int64_t j0, int64_t n,
              const float* bias, float* y) {
  int64_t i = i0;
  for (; i + 4 <= i1; i += 4) Tile<T, NJ, 4>(a, i, w, j0, n, bias, y);
  switch (i1 - i) {
    case 3: Tile<T, NJ, 3>(a, i, w, j0, n, bias, y); break;
    case 2: Tile<T, NJ, 2>(a, i, w, j0, n, bias, y); break;
    case 1: Tile<T, NJ, 1>(a, i, w, j0, n, bias, y); break;
    default: break;
  }
}

template <DType T>
void Prepare(int64_t m, int64_t k, Act* act) {
  act->m = m;
  act->k = k;
  act->wtype = T;
  act->layout = 1;
  act->groups = (k + kGroup - 1) / kGroup;
  act->kp = act->groups * kGroup;
  const size_t nq = static_cast<size_t>(m * act->kp), nv = static_cast<size_t>(m * act->groups * kNH<T> * 16);
  if (act->q.size() < nq) act->q.resize(nq);
  if (act->init.size() < nv) act->init.resize(nv);
  if (act->scale.size() < nv) act->scale.resize(nv);
}

// Columns [j0, j1) of y (row stride n), input rows in chunks of 32.
template <DType T>
void Cols(const Act& a, const WeightRef& w, int64_t j0, int64_t j1, int64_t n, const float* bias, float* y) {
  constexpr int64_t kRowChunk = 32;
  const int64_t m = a.m;
  for (int64_t c0 = 0; c0 < m; c0 += kRowChunk) {
    const int64_t c1 = std::min(m, c0 + kRowChunk);
    int64_t j = j0;
    for (; j + 4 <= j1; j += 4) RowTiles<T, 4>(a, c0, c1, w, j, n, bias, y);
    for (; j < j1; ++j) RowTiles<T, 1>(a, c0, c1, w, j, n, bias, y);
  }
}

template <DType T>
void Run(const float* x, int64_t m, int64_t k, const TensorView& wv, const float* bias, float* y) {
  const int64_t n = wv.numel() / k;
  thread_local Act act;
  Prepare<T>(m, k, &act);
  Act* ap = &act;
  if (m >= 8) {
    ThreadPool::Global().ParallelFor(m, 4, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) QuantizeRow<T>(x + i * k, k, ap, i);
    });
  } else {
    for (int64_t i = 0; i < m; ++i) QuantizeRow<T>(x + i * k, k, ap, i);
  }
  const WeightRef w{static_cast<const uint8_t*>(wv.data), QuantRowBytes(T, k), k / kQuantBlock, act.groups};
  const int64_t tiles = (n + 3) / 4;
  const int64_t grain = std::max<int64_t>(1, 32768 / (4 * static_cast<int64_t>(w.row_bytes)));
  constexpr int64_t kRowChunk = 32;
  ThreadPool::Global().ParallelFor(tiles, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t c0 = 0; c0 < m; c0 += kRowChunk) {
      const int64_t c1 = std::min(m, c0 + kRowChunk);
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t j = t * 4;
        if (j + 4 <= n) {
          RowTiles<T, 4>(*ap, c0, c1, w, j, n, bias, y);
        } else {
          for (int64_t jj = j; jj < n; ++jj) RowTiles<T, 1>(*ap, c0, c1, w, jj, n, bias, y);
        }
      }
    }
  });
}

}  // namespace

void QuantizeActsAvx512(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a) {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  DSVL2_CHECK(IsQuantized(wtype) && k % kQuantBlock == 0);
  if (!vnni) return QuantizeActsGeneric(x, m, k, wtype, a);
  if (wtype == DType::kQ4_0) {
    Prepare<DType::kQ4_0>(m, k, a);
    for (int64_t i = 0; i < m; ++i) QuantizeRow<DType::kQ4_0>(x + i * k, k, a, i);
  } else {
    Prepare<DType::kQ8_0>(m, k, a);
    for (int64_t i = 0; i < m; ++i) QuantizeRow<DType::kQ8_0>(x + i * k, k, a, i);
  }
}

void MatMulQColsAvx512(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y) {
  if (a.layout == 0) return MatMulQColsGeneric(a, w, j0, j1, y);
  DSVL2_CHECK(IsQuantized(w.dtype) && w.dtype == a.wtype && a.layout == 1 && w.shape.back() == a.k);
  const int64_t k = a.k, n = w.numel() / k;
  const WeightRef wr{static_cast<const uint8_t*>(w.data), QuantRowBytes(w.dtype, k), k / kQuantBlock, a.groups};
  if (w.dtype == DType::kQ4_0) return Cols<DType::kQ4_0>(a, wr, j0, j1, n, nullptr, y);
  Cols<DType::kQ8_0>(a, wr, j0, j1, n, nullptr, y);
}

void MatMulQAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y) {
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  DSVL2_CHECK(IsQuantized(w.dtype) && k % kQuantBlock == 0 && w.shape.back() == k);
  if (!vnni) return MatMulQAvx2(x, m, k, w, bias, y);
  if (w.dtype == DType::kQ4_0) return Run<DType::kQ4_0>(x, m, k, w, bias, y);
  return Run<DType::kQ8_0>(x, m, k, w, bias, y);
}

}  // namespace dsvl2::kernels::cpu
