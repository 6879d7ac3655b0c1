#include "io/weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/half.h"
#include "base/logging.h"
#include "base/quant.h"
#include "base/thread_pool.h"

namespace dsvl2 {
namespace {
bool IsWeightDType(DType t) {  // float or block-quantized
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16 || IsQuantized(t);
}

// Row r of a 2-D view as float32.
void RowToFloat(const TensorView& v, int64_t r, float* out) {
  const int64_t k = v.dim(1);
  if (IsQuantized(v.dtype)) return DequantizeRow(v.dtype, static_cast<const uint8_t*>(v.data), k, r, out);
  const uint8_t* p = static_cast<const uint8_t*>(v.data) + static_cast<size_t>(r) * RowBytes(v.dtype, k);
  switch (v.dtype) {
    case DType::kF32: std::memcpy(out, p, static_cast<size_t>(k) * 4); return;
    case DType::kBF16:
      for (int64_t i = 0; i < k; ++i) out[i] = Bf16ToF32(reinterpret_cast<const uint16_t*>(p)[i]);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < k; ++i) out[i] = F16ToF32(reinterpret_cast<const uint16_t*>(p)[i]);
      return;
    default: DSVL2_CHECK_MSG(false, std::string("RowToFloat on dtype ") + DTypeName(v.dtype));
  }
}
std::string Lower(const char* s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}
// Drops the whole pages of [p, p + n) from a read-only file mapping (they are re-read from the
// page cache if touched again): the copy in anonymous memory replaces them in the RSS.
void ReleaseMappedPages(const void* p, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}
}  // namespace

WeightBuffer::WeightBuffer(size_t bytes, size_t align) {
  bytes = std::max<size_t>(bytes, 1);
  align = std::max<size_t>(align, 64);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  map_size_ = bytes + (align > page ? align : 0);
  map_ = ::mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  DSVL2_CHECK_MSG(map_ != MAP_FAILED, StrFormat("out of memory allocating %zu bytes of weights", bytes));
  const uintptr_t a = (reinterpret_cast<uintptr_t>(map_) + align - 1) & ~(uintptr_t{align} - 1);
  data_ = reinterpret_cast<uint8_t*>(a);
  if (bytes >= (2u << 20)) ::madvise(data_, bytes, MADV_HUGEPAGE);
}

WeightBuffer::~WeightBuffer() {
  if (map_) ::munmap(map_, map_size_);
}

uint8_t* OwnedWeights::Allocate(size_t bytes) {
  bytes = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  if (chunks_.empty() || chunk_used_ + bytes > chunk_size_) {
    chunk_size_ = std::max(kChunkBytes, (bytes + (size_t{2} << 20) - 1) / (size_t{2} << 20) * (size_t{2} << 20));
    chunks_.emplace_back(chunk_size_, size_t{2} << 20);
    chunk_used_ = 0;
  }
  uint8_t* p = chunks_.back().data() + chunk_used_;
  chunk_used_ += bytes;
  allocated_ += bytes;
#ifdef MADV_POPULATE_WRITE
  // Fault the pages in with one call (page faults one by one are slow in some VMs); if the
  // kernel lacks it (before 5.14), the copy faults them in.
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(p) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes + page - 1) / page * page;
  ::madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_WRITE);
#endif
  return p;
}

const TensorView* WeightBinder::Check(const std::string& name, const Shape& shape) {
  const TensorView* t = store_->Find(name);
  if (!t) {
    problems_.push_back(name + ": missing (expected " + ShapeToString(shape) + " bf16|f16|f32)");
    return nullptr;
  }
  const std::string want_dtype = IsWeightDType(t->dtype) ? Lower(DTypeName(t->dtype)) : "bf16|f16|f32";
  if (t->shape != shape || !IsWeightDType(t->dtype)) {
    problems_.push_back(name + ": expected " + ShapeToString(shape) + " " + want_dtype + ", found " +
                        ShapeToString(t->shape) + " " + Lower(DTypeName(t->dtype)));
    return nullptr;
  }
  return t;
}

StatusOr<WeightConversion> ParseWeightConversion(const std::string& spec) {
  WeightConversion c;
  if (spec.empty()) return c;
  c.enabled = true;
  if (spec == "bf16") {
    c.target = DType::kBF16;
  } else if (!ParseQuantFormat(spec, &c.target)) {
    return Status::Error("unknown weight type '" + spec + "' (expected bf16, q8 or q4)");
  }
  return c;
}

TensorView ConvertMatrix(const TensorView& v, DType target, OwnedWeights* owned) {
  uint8_t* dst = owned->Allocate(StorageBytes(target, v.shape));
  ConvertMatrixInto(v, target, dst);
  return TensorView{target, v.shape, dst};
}

void ConvertMatrixInto(const TensorView& v, DType target, uint8_t* dst) {
  const int64_t n = v.dim(0), k = v.dim(1);
  if (IsQuantized(target)) {  // panel by panel (16 rows, base/quant.h)
    const int64_t panels = QuantPaddedRows(n) / kQuantPanel;
    ThreadPool::Global().ParallelFor(panels, 1, [&](int64_t p0, int64_t p1) {
      std::vector<float> rows(static_cast<size_t>(kQuantPanel * k));
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t r0 = p * kQuantPanel, count = std::min(kQuantPanel, n - r0);
        for (int64_t r = 0; r < count; ++r) RowToFloat(v, r0 + r, rows.data() + r * k);
        QuantizePanel(target, rows.data(), count, k, dst + static_cast<size_t>(p) * QuantPanelBytes(target, k));
      }
    });
    return;
  }
  const size_t rb = RowBytes(target, k);
  ThreadPool::Global().ParallelFor(n, 16, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = r0; r < r1; ++r) {
      RowToFloat(v, r, row.data());
      uint8_t* out = dst + static_cast<size_t>(r) * rb;
      if (target == DType::kBF16) {
        for (int64_t i = 0; i < k; ++i) reinterpret_cast<uint16_t*>(out)[i] = F32ToBf16(row[static_cast<size_t>(i)]);
      } else if (target == DType::kF16) {
        for (int64_t i = 0; i < k; ++i) reinterpret_cast<uint16_t*>(out)[i] = F32ToF16(row[static_cast<size_t>(i)]);
      } else {
        std::memcpy(out, row.data(), rb);
      }
    }
  });
}

TensorView WeightBinder::Matrix(const std::string& name, const Shape& shape) {
  const TensorView* t = Check(name, shape);
  if (!t) return TensorView{};
  const bool convert = conv_.enabled && owned_ && t->rank() == 2 && t->dtype != conv_.target &&
                       (!conv_.applies || conv_.applies(name)) &&
                       !(IsQuantized(conv_.target) && t->dim(1) % kQuantBlock != 0);  // else as stored
  if (convert) return ConvertMatrix(*t, conv_.target, owned_);
  if (!conv_.copy_to_memory || !owned_) return *t;
  uint8_t* dst = owned_->Allocate(t->nbytes());
  const uint8_t* src = static_cast<const uint8_t*>(t->data);
  constexpr int64_t kChunk = 1 << 20;  // both sides fault pages in: spread over the pool
  const int64_t bytes = static_cast<int64_t>(t->nbytes()), chunks = (bytes + kChunk - 1) / kChunk;
  ThreadPool::Global().ParallelFor(chunks, 1, [&](int64_t c0, int64_t c1) {
    const int64_t b = c0 * kChunk, e = std::min(bytes, c1 * kChunk);
    std::memcpy(dst + b, src + b, static_cast<size_t>(e - b));
  });
  ReleaseMappedPages(t->data, t->nbytes());
  return TensorView{t->dtype, t->shape, dst};
}

std::vector<float> WeightBinder::Vector(const std::string& name, const Shape& shape) {
  const TensorView* t = Check(name, shape);
  if (!t) return std::vector<float>(static_cast<size_t>(NumElements(shape)), 0.0f);
  return t->ToFloat();
}

Status WeightBinder::status() const {
  if (problems_.empty()) return Status::Ok();
  std::string msg = problems_.front();
  if (problems_.size() > 1)
    msg += StrFormat(" (and %zu more tensor problems)", problems_.size() - 1);
  return Status::Error(msg);
}

}  // namespace dsvl2
