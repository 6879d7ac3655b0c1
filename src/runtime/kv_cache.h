// Paged KV cache: one pool of fixed-size blocks shared by all sequences. A block holds
// `block_size` tokens × all layers × `row_width` floats; each sequence owns a list of blocks.
// For MLA the row is the compressed latent + rope key (576 floats for Small/Base), not per-head
// keys and values.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "lm/kv.h"

namespace dsvl2 {

class KvPool {
 public:
  KvPool(int num_layers, int64_t row_width, int block_size, int64_t num_blocks);
  // A pool sized to `bytes` of memory.
  static std::unique_ptr<KvPool> WithBudget(int num_layers, int64_t row_width, int block_size,
                                            int64_t bytes);

  int num_layers() const { return num_layers_; }
  int64_t row_width() const { return row_width_; }
  int block_size() const { return block_size_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t free_blocks() const;
  int64_t bytes_per_block() const { return block_floats_ * static_cast<int64_t>(sizeof(float)); }

  // Touches the pages of the first `blocks` blocks now (huge pages advised), so that their first
  // use does not take page faults in the middle of a decode step (in the 2-core VM of
  // docs/benchmarks a first touch costs ~1 s per GB). Blocks are handed out lowest first and
  // freed ones are reused first, so a workload that never holds more than `blocks` blocks at
  // once touches no other page. Returns the bytes touched.
  int64_t Prefault(int64_t blocks);

  // Allocates n blocks (all or nothing).
  bool Allocate(int64_t n, std::vector<int32_t>* out);
  void Free(const std::vector<int32_t>& blocks);

  float* BlockLayer(int32_t block, int layer) {
    return data_.get() + block * block_floats_ + static_cast<int64_t>(layer) * block_size_ * row_width_;
  }
  const float* BlockLayer(int32_t block, int layer) const {
    return data_.get() + block * block_floats_ + static_cast<int64_t>(layer) * block_size_ * row_width_;
  }

 private:
  int num_layers_;
  int64_t row_width_;
  int block_size_;
  int64_t num_blocks_;
  int64_t block_floats_;
  // Uninitialised: pages are touched (and so resident) only as blocks are used, or Prefault().
  std::unique_ptr<float[]> data_;
  mutable std::mutex mu_;
  std::vector<int32_t> free_list_;
};

// One sequence's cache in a KvPool; returns its blocks on destruction.
class PagedSequenceKv : public SequenceKv {
 public:
  explicit PagedSequenceKv(KvPool* pool) : pool_(pool) {}
  ~PagedSequenceKv() override;
  PagedSequenceKv(const PagedSequenceKv&) = delete;
  PagedSequenceKv& operator=(const PagedSequenceKv&) = delete;

  int64_t length() const override { return length_; }
  Status Reserve(int64_t extra) override;
  float* Row(int layer, int64_t pos) override;
  void Spans(int layer, int64_t n, std::vector<kernels::KvSpan>* out) const override;
  void Advance(int64_t n) override { length_ += n; }
  void Truncate(int64_t n) override;
  int64_t capacity() const { return static_cast<int64_t>(blocks_.size()) * pool_->block_size(); }
  size_t num_blocks() const { return blocks_.size(); }

 private:
  KvPool* pool_;
  std::vector<int32_t> blocks_;
  int64_t length_ = 0;
};

}  // namespace dsvl2
