#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/half.h"
#include "base/thread_pool.h"
#include "kernels/kernels.h"

namespace dsvl2::kernels {

namespace {

// The key rows [0, n) of the spans, in order (a row pointer each, so that they can be split).
const float** KeyRows(const KvSpan* spans, int num_spans, int64_t row_stride, int64_t n,
                      std::vector<const float*>* buf) {
  buf->resize(static_cast<size_t>(n));
  int64_t j = 0;
  for (int s = 0; s < num_spans && j < n; ++s) {
    const int64_t rows = std::min<int64_t>(spans[s].rows, n - j);
    for (int64_t r = 0; r < rows; ++r, ++j) (*buf)[static_cast<size_t>(j)] = spans[s].data + r * row_stride;
  }
  return buf->data();
}

template <typename T>
T* Grow(std::vector<T>* v, int64_t n) {
  if (static_cast<int64_t>(v->size()) < n) v->resize(static_cast<size_t>(n));
  return v->data();
}

// fn(b, e) over [0, n) on the pool when there is enough work (a SigLIP head's 729 keys x 72: the
// gathers and copies below had run on the calling thread alone, ~10% of vision time at medium).
template <typename Fn>
void Split(int64_t n, int64_t elems_per_item, Fn&& fn) {
  if (n * elems_per_item < 8192)
    fn(int64_t{0}, n);
  else
    ThreadPool::Global().ParallelFor(n, std::max<int64_t>(1, 2048 / elems_per_item), fn);
}

// The key or value element as the product's "weight" stores it: f32, or bf16 (nearest even).
inline void Put(float v, float* out) { *out = v; }
inline void Put(float v, uint16_t* out) { *out = F32ToBf16(v); }

// K[keys, dk] (row j = key j) and V^T[dv, keys] gathered from the key rows into contiguous
// scratch.
template <typename T>
T* GatherK(const float* const* rows, int64_t keys, int64_t k_offset, int dk, std::vector<T>* buf) {
  T* k = Grow(buf, keys * dk);
  Split(keys, dk, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j)
      for (int d = 0; d < dk; ++d) Put(rows[j][k_offset + d], k + j * dk + d);
  });
  return k;
}

template <typename T>
T* GatherVt(const float* const* rows, int64_t keys, int64_t v_offset, int dv, std::vector<T>* buf) {
  T* vt = Grow(buf, static_cast<int64_t>(dv) * keys);
  // Blocks of 16 keys: each row of V^T written 16 contiguous elements at a time.
  Split((keys + 15) / 16, 16 * dv, [&](int64_t b, int64_t e) {
    for (int64_t jb = b; jb < e; ++jb) {
      const int64_t j0 = jb * 16, j1 = std::min(keys, j0 + 16);
      for (int d = 0; d < dv; ++d)
        for (int64_t j = j0; j < j1; ++j) Put(rows[j][v_offset + d], vt + d * keys + j);
    }
  });
  return vt;
}

// dst[r * dst_stride + i] = src[r * src_stride + i] for r < rows, i < cols.
void CopyRows(const float* src, int64_t src_stride, int64_t rows, int64_t cols, float* dst,
              int64_t dst_stride) {
  Split(rows, cols, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      std::copy(src + r * src_stride, src + r * src_stride + cols, dst + r * dst_stride);
  });
}

// Rows per block of queries: bounds the score scratch and, with a causal mask, the work spent on
// masked-out keys (each block multiplies against the keys its last row sees).
int64_t BlockRows(int64_t m, int64_t n_keys, bool causal) {
  if (causal) return 256;
  return std::max<int64_t>(256,
                           std::min<int64_t>(m, (int64_t{4} << 20) / std::max<int64_t>(n_keys, 1)));
}

}  // namespace

void AttendMany(const float* q, int64_t q_stride, int64_t m, int dk, const KvSpan* spans,
                int num_spans, int64_t row_stride, int64_t k_offset, int64_t v_offset, int dv,
                int64_t n_keys, int64_t causal_base, int64_t group, float scale, float* out,
                int64_t out_stride, AttendProducts products) {
  if (m <= 0) return;
  const bool causal = causal_base >= 0;
  group = std::max<int64_t>(group, 1);
  auto keys_for_row = [&](int64_t r) {
    return causal ? std::min<int64_t>(n_keys, causal_base + r / group + 1) : n_keys;
  };
  const int64_t k_all = keys_for_row(m - 1);
  if (k_all <= 0) {
    for (int64_t r = 0; r < m; ++r)
      std::fill(out + r * out_stride, out + r * out_stride + dv, 0.0f);
    return;
  }
  // bf16 K and V^T make both MatMuls take the bf16-weight kernels, which at medium precision
  // round the activations (Q, P) to bf16 as well.
  const bool bf16 = products == AttendProducts::kMatMulPrecision &&
                    GetMatMulPrecision() == MatMulPrecision::kMedium &&
                    MediumPrecisionChangesResults(Active());
  const DType kv_dtype = bf16 ? DType::kBF16 : DType::kF32;
  thread_local std::vector<float> k_buf, vt_buf, q_buf, s_buf, o_buf;
  thread_local std::vector<uint16_t> k_buf16, vt_buf16;
  thread_local std::vector<const float*> row_buf;
  const float* const* key_rows = KeyRows(spans, num_spans, row_stride, k_all, &row_buf);
  // The table's fused attention where it has one (bf16 tiles, or f32): the same roundings, the
  // key rows read in place, each few query rows from scores to output in the core's caches.
  const KernelTable& table = Active();
  const auto fused = bf16 ? table.attend_bf16 : table.attend_f32;
  if (fused && m >= kAttendManyMinRows) {
    const int64_t block = BlockRows(m, k_all, causal);
    thread_local std::vector<int64_t> lens;
    for (int64_t r0 = 0; r0 < m; r0 += block) {
      const int64_t rows = std::min(block, m - r0);
      lens.resize(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) lens[static_cast<size_t>(r)] = keys_for_row(r0 + r);
      fused(q + r0 * q_stride, q_stride, rows, dk, key_rows, k_offset, v_offset, dv,
            keys_for_row(r0 + rows - 1), lens.data(), scale, out + r0 * out_stride, out_stride);
    }
    return;
  }
  // K[k_all, dk], contiguous: the "weight" of S = Q K^T.
  const void* kmat;
  if (bf16)
    kmat = GatherK(key_rows, k_all, k_offset, dk, &k_buf16);
  else
    kmat = GatherK(key_rows, k_all, k_offset, dk, &k_buf);
  const int64_t block = BlockRows(m, k_all, causal);
  const auto softmax_row = table.softmax_row;
  for (int64_t r0 = 0; r0 < m; r0 += block) {
    const int64_t rows = std::min(block, m - r0);
    const int64_t kb = keys_for_row(r0 + rows - 1);
    // Q block [rows, dk].
    const float* qb = q + r0 * q_stride;
    if (q_stride != dk) {
      float* qs = Grow(&q_buf, rows * dk);
      CopyRows(qb, q_stride, rows, dk, qs, dk);
      qb = qs;
    }
    // S[rows, kb] = Q K^T.
    float* sm = Grow(&s_buf, rows * kb);
    MatMul(qb, rows, dk, TensorView{kv_dtype, {kb, dk}, kmat}, nullptr, sm);
    // V^T[dv, kb]: the "weight" of O = P V.
    const void* vt;
    if (bf16)
      vt = GatherVt(key_rows, kb, v_offset, dv, &vt_buf16);
    else
      vt = GatherVt(key_rows, kb, v_offset, dv, &vt_buf);
    // P = softmax(scale * S) over each row's visible keys, zero beyond them.
    ThreadPool::Global().ParallelFor(rows, 8, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        float* s = sm + r * kb;
        const int64_t len = keys_for_row(r0 + r);
        if (softmax_row) {
          softmax_row(s, len, kb, scale);
          continue;
        }
        float mx = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, s[j] *= scale);
        float sum = 0.0f;
        for (int64_t j = 0; j < len; ++j) {
          const float p = std::exp(s[j] - mx);
          s[j] = p;
          sum += p;
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < len; ++j) s[j] *= inv;
        std::fill(s + len, s + kb, 0.0f);
      }
    });
    // O[rows, dv] = P V.
    float* ob = out + r0 * out_stride;
    if (out_stride == dv) {
      MatMul(sm, rows, kb, TensorView{kv_dtype, {dv, kb}, vt}, nullptr, ob);
    } else {
      float* os = Grow(&o_buf, rows * dv);
      MatMul(sm, rows, kb, TensorView{kv_dtype, {dv, kb}, vt}, nullptr, os);
      CopyRows(os, dv, rows, dv, ob, out_stride);
    }
  }
}

}  // namespace dsvl2::kernels
