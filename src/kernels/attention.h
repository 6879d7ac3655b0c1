// Single-query attention over keys stored as rows in one or more spans (contiguous KV, or the
// blocks of a paged cache), with an online softmax: one pass, no score buffer.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace dsvl2::kernels {

// Single-query attention with the active kernel table (AttendOneFn in kernels.h): on the calling
// thread, so decode can run many (token, head) queries in one parallel region.
inline void AttendOne(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
                      int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale,
                      float* out) {
  Active().attend_one(q, dk, spans, num_spans, row_stride, k_offset, v_offset, dv, n_keys, scale, out);
}

// Attention for m query rows against the same keys (vision, prefill), as matrix products with the
// active kernel table: per block of rows, S = scale * Q K^T (MatMul, K gathered from the spans
// into contiguous scratch), a row softmax, O = P V (MatMul against a gathered V^T); or, where the
// table has one, its fused attention (attend_bf16 for the bf16 products below, attend_f32).
// Query row r is q + r*q_stride (dk floats), its output out + r*out_stride (dv floats). Non-causal
// (causal_base < 0): every row sees the first n_keys keys. Causal: row r sees the first
// causal_base + r/group + 1 keys (group = consecutive rows sharing one position, e.g. the heads of
// one token when they share the keys as in MLA; 1 otherwise), clamped to n_keys. Same results as
// AttendOne per row up to float rounding. Runs its own parallel regions on ThreadPool::Global():
// call it from one thread, never inside a ParallelFor. Scratch is thread_local and reused.
//
// products: kF32 (the default) multiplies in f32 whatever the matmul precision. kMatMulPrecision
// follows it: at MatMulPrecision::kMedium on a table where that changes results
// (MediumPrecisionChangesResults), K and V are rounded to bf16 and the two products take the
// bf16 kernels, which round Q and P to bf16 too (from 16 query rows on; f32 accumulation, the
// softmax in f32): the numerics of PyTorch's bf16 autocast attention.
enum class AttendProducts { kF32, kMatMulPrecision };
void AttendMany(const float* q, int64_t q_stride, int64_t m, int dk, const KvSpan* spans,
                int num_spans, int64_t row_stride, int64_t k_offset, int64_t v_offset, int dv,
                int64_t n_keys, int64_t causal_base, int64_t group, float scale, float* out,
                int64_t out_stride, AttendProducts products = AttendProducts::kF32);

// From this many query rows on, AttendMany beats per-row AttendOne.
constexpr int64_t kAttendManyMinRows = 16;

}  // namespace dsvl2::kernels
