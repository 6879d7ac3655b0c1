#include "runtime/kv_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/logging.h"

namespace dsvl2 {

KvPool::KvPool(int num_layers, int64_t row_width, int block_size, int64_t num_blocks)
    : num_layers_(num_layers), row_width_(row_width), block_size_(block_size),
      num_blocks_(num_blocks),
      block_floats_(static_cast<int64_t>(num_layers) * block_size * row_width) {
  data_.reset(new float[static_cast<size_t>(block_floats_ * num_blocks)]);
  free_list_.reserve(static_cast<size_t>(num_blocks));
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_list_.push_back(static_cast<int32_t>(b));
}

std::unique_ptr<KvPool> KvPool::WithBudget(int num_layers, int64_t row_width, int block_size,
                                           int64_t bytes) {
  const int64_t per_block = static_cast<int64_t>(num_layers) * block_size * row_width * 4;
  return std::make_unique<KvPool>(num_layers, row_width, block_size,
                                  std::max<int64_t>(1, bytes / std::max<int64_t>(per_block, 1)));
}

int64_t KvPool::Prefault(int64_t blocks) {
  blocks = std::clamp<int64_t>(blocks, 0, num_blocks_);
  const size_t bytes = static_cast<size_t>(block_floats_ * blocks) * sizeof(float);
  if (bytes == 0) return 0;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(data_.get()) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(data_.get()) + bytes) / page * page;
  if (e > b) {
    ::madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
    if (::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_WRITE) == 0) return static_cast<int64_t>(bytes);
#endif
  }
  std::memset(data_.get(), 0, bytes);
  return static_cast<int64_t>(bytes);
}

int64_t KvPool::free_blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(free_list_.size());
}

bool KvPool::Allocate(int64_t n, std::vector<int32_t>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (n > static_cast<int64_t>(free_list_.size())) return false;
  for (int64_t i = 0; i < n; ++i) {
    out->push_back(free_list_.back());
    free_list_.pop_back();
  }
  return true;
}

void KvPool::Free(const std::vector<int32_t>& blocks) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int32_t b : blocks) free_list_.push_back(b);
}

PagedSequenceKv::~PagedSequenceKv() { pool_->Free(blocks_); }

Status PagedSequenceKv::Reserve(int64_t extra) {
  const int64_t need = length_ + extra;
  const int64_t bs = pool_->block_size();
  const int64_t want_blocks = (need + bs - 1) / bs - static_cast<int64_t>(blocks_.size());
  if (want_blocks <= 0) return Status::Ok();
  if (!pool_->Allocate(want_blocks, &blocks_))
    return Status::Error(StrFormat("KV cache full: %lld more blocks of %d tokens needed, %lld free",
                                   static_cast<long long>(want_blocks), pool_->block_size(),
                                   static_cast<long long>(pool_->free_blocks())));
  return Status::Ok();
}

float* PagedSequenceKv::Row(int layer, int64_t pos) {
  const int64_t bs = pool_->block_size();
  DSVL2_CHECK(pos >= 0 && pos < capacity());
  return pool_->BlockLayer(blocks_[static_cast<size_t>(pos / bs)], layer) + (pos % bs) * pool_->row_width();
}

void PagedSequenceKv::Spans(int layer, int64_t n, std::vector<kernels::KvSpan>* out) const {
  out->clear();
  const int64_t bs = pool_->block_size();
  DSVL2_CHECK(n <= capacity());
  for (int64_t start = 0, i = 0; start < n; start += bs, ++i)
    out->push_back({pool_->BlockLayer(blocks_[static_cast<size_t>(i)], layer), std::min(bs, n - start)});
}

void PagedSequenceKv::Truncate(int64_t n) {
  if (n < length_) length_ = std::max<int64_t>(0, n);
}

}  // namespace dsvl2
