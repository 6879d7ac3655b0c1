#include "lm/attention.h"

#include "base/thread_pool.h"

namespace dsvl2 {

void AttendSlices(
    const std::vector<SeqSlice>& seqs, int layer, int heads, int64_t grain,
    const std::function<void(const SeqSlice& s, int64_t len, const KvSpans& spans)>& prefill,
    const std::function<void(int64_t row, int64_t head, int64_t n_keys, const KvSpans& spans)>& decode) {
  struct DecodeRow {
    const KvSpans* spans;
    int64_t row, n_keys;
  };
  std::vector<KvSpans> seq_spans(seqs.size());
  std::vector<DecodeRow> rows;
  for (size_t si = 0; si < seqs.size(); ++si) {
    const SeqSlice& s = seqs[si];
    const int64_t len = s.kv->length();
    KvSpans& spans = seq_spans[si];
    s.kv->Spans(layer, len + s.num_tokens, &spans);
    if (s.num_tokens >= kernels::kAttendManyMinRows) {
      prefill(s, len, spans);
      continue;
    }
    for (int64_t i = 0; i < s.num_tokens; ++i) rows.push_back({&spans, s.start_row + i, len + i + 1});
  }
  ThreadPool::Global().ParallelFor(static_cast<int64_t>(rows.size()) * heads, grain,
                                   [&](int64_t b, int64_t e) {
                                     for (int64_t idx = b; idx < e; ++idx) {
                                       const DecodeRow& r = rows[static_cast<size_t>(idx / heads)];
                                       decode(r.row, idx % heads, r.n_keys, *r.spans);
                                     }
                                   });
}

}  // namespace dsvl2
