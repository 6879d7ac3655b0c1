// The block loop shared by the SIMD single-query attention kernels (cpu/attn_*.cc): key rows are
// gathered from the spans in blocks of Block::kKeys, and Block::Run folds one block into the
// online-softmax state (running max m, running sum l, unnormalised output). Included by each
// ISA's translation unit (anonymous namespace: each compiles its own copy).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/kernels.h"

namespace dsvl2::kernels::cpu {
namespace {

template <typename Block>
void AttendOneBlocked(const float* q, int dk, const KvSpan* spans, int num_spans,
                      int64_t row_stride, int64_t k_offset, int64_t v_offset, int dv,
                      int64_t n_keys, float scale, float* out) {
  std::fill(out, out + dv, 0.0f);
  float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
  const float* rows[Block::kKeys];
  int nk = 0;
  int64_t seen = 0;
  for (int s = 0; s < num_spans && seen < n_keys; ++s) {
    const int64_t take = std::min<int64_t>(spans[s].rows, n_keys - seen);
    for (int64_t j = 0; j < take; ++j) {
      rows[nk++] = spans[s].data + j * row_stride;
      if (nk == Block::kKeys) {
        Block::Run(q, dk, rows, nk, k_offset, v_offset, dv, scale, &m, &l, out);
        nk = 0;
      }
    }
    seen += take;
  }
  if (nk > 0) Block::Run(q, dk, rows, nk, k_offset, v_offset, dv, scale, &m, &l, out);
  if (l > 0.0f) {
    const float inv = 1.0f / l;
    for (int d = 0; d < dv; ++d) out[d] *= inv;
  }
}

}  // namespace
}  // namespace dsvl2::kernels::cpu
