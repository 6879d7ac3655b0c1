// Scalar single-query attention: one key at a time with an online softmax (the oracle for the
// SIMD versions in cpu/attn_*.cc).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ref/ref.h"

namespace dsvl2::kernels::ref {

void AttendOne(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
               int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale,
               float* out) {
  float m = -std::numeric_limits<float>::infinity();
  float l = 0.0f;
  for (int d = 0; d < dv; ++d) out[d] = 0.0f;
  int64_t seen = 0;
  for (int s = 0; s < num_spans && seen < n_keys; ++s) {
    const int64_t rows = std::min<int64_t>(spans[s].rows, n_keys - seen);
    for (int64_t j = 0; j < rows; ++j) {
      const float* row = spans[s].data + j * row_stride;
      const float* k = row + k_offset;
      float dot = 0.0f;
      for (int d = 0; d < dk; ++d) dot += q[d] * k[d];
      const float score = dot * scale;
      if (score > m) {
        const float corr = std::exp(m - score);  // exp(-inf) = 0 on the first key
        l *= corr;
        for (int d = 0; d < dv; ++d) out[d] *= corr;
        m = score;
      }
      const float p = std::exp(score - m);
      l += p;
      const float* v = row + v_offset;
      for (int d = 0; d < dv; ++d) out[d] += p * v[d];
    }
    seen += rows;
  }
  if (l > 0.0f) {
    const float inv = 1.0f / l;
    for (int d = 0; d < dv; ++d) out[d] *= inv;
  }
}

}  // namespace dsvl2::kernels::ref
