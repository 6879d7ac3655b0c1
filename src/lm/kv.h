// What the language model needs from a KV cache: per layer, one row of `row_width` floats per
// cached token, addressable by position, readable as spans. The runtime implements it (a paged
// pool shared by all sequences); the model never owns cache memory.
//   MHA row: [k (heads*head_dim, after RoPE) | v (heads*head_dim)]
//   MLA row: [c_kv (kv_lora_rank, after kv_a_layernorm) | k_pe (qk_rope_head_dim, after RoPE)]
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "kernels/attention.h"

namespace dsvl2 {

class SequenceKv {
 public:
  virtual ~SequenceKv() = default;
  // Tokens whose rows are committed.
  virtual int64_t length() const = 0;
  // Makes room for `extra` more tokens after length(); fails (changing nothing) when the pool
  // has no space.
  virtual Status Reserve(int64_t extra) = 0;
  // Writable row of `layer` at position pos < length() + reserved.
  virtual float* Row(int layer, int64_t pos) = 0;
  // Spans covering positions [0, n) of `layer`, in order.
  virtual void Spans(int layer, int64_t n, std::vector<kernels::KvSpan>* out) const = 0;
  // Commits `n` reserved tokens (called once the forward pass has written all their rows).
  virtual void Advance(int64_t n) = 0;
  // Drops everything after the first `n` tokens (keeps capacity).
  virtual void Truncate(int64_t n) = 0;
};

// One sequence's share of a batched forward pass: rows [start_row, start_row + num_tokens) of the
// batch are its next tokens, at positions kv->length() onwards.
struct SeqSlice {
  SequenceKv* kv = nullptr;
  int64_t start_row = 0;
  int64_t num_tokens = 0;
};

}  // namespace dsvl2
