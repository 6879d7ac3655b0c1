// Single-query attention over keys stored as rows in one or more spans (contiguous KV, or the
// blocks of a paged cache), with an online softmax: one pass, no score buffer.
#pragma once

#include <cstdint>

namespace dsvl2::kernels {

// `rows` consecutive key/value rows, each `row_stride` floats apart.
struct KvSpan {
  const float* data = nullptr;
  int64_t rows = 0;
};

// out[0..dv) = sum_j softmax_j(scale * q·k_j) v_j over the first n_keys rows of the spans, where
// k_j = row_j[k_offset .. k_offset+dk) and v_j = row_j[v_offset .. v_offset+dv).
void AttendOne(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
               int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale, float* out);

}  // namespace dsvl2::kernels
