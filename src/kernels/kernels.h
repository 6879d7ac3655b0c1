// The kernel interface. Model code calls only these functions; each has a scalar reference in
// ref/ (the oracle for tests) and optional fast versions in cpu/ chosen at run time by the CPU's
// features. All activations are float32; weights may be f32, bf16 or f16 (read in place from the
// memory-mapped checkpoint) or block-quantized q8_0 / q4_0 (base/quant.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/quant.h"
#include "base/tensor.h"

namespace dsvl2::kernels {

// Instruction sets a kernel table can be built for.
// kAmx is the AVX-512 table with AMX tile products for bf16 weights in prefill and vision.
enum class Isa { kRef = 0, kGeneric = 1, kAvx2 = 2, kAvx512 = 3, kAmx = 4 };
const char* IsaName(Isa isa);

// y[m, n] = sum_k x[m, k] * w[n, k] + bias[n]   (x: [m,k] f32 row-major, w: [n,k] PyTorch Linear
// layout, any float dtype; bias may be null). Rows of y are written in full.
using MatMulFn = void (*)(const float* x, int64_t m, int64_t k, const TensorView& w,
                          const float* bias, float* y);

// y[m, k] = sum_n x[m, n] * w[n, k]   (x @ w, w used untransposed: e.g. absorbing kv_b_proj into
// the query side of MLA without a transposed copy of the weight).
using MatMulTransposedFn = void (*)(const float* x, int64_t m, const TensorView& w, float* y);

// Columns [j0, j1) of y[m, n] = x[m, k] · w[n, k]^T (no bias; row stride of y is n), computed on
// the calling thread only: callers build one parallel region over many products (e.g. all chosen
// experts of a MoE layer in decode) instead of one per product.
using MatMulColsFn = void (*)(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                              int64_t j1, float* y);

// Columns [j0, j1) of out[m, n] = silu(x · gate^T) * (x · up^T)   (gate, up: [n, k]), on the
// calling thread; gate and up are computed in the same pass over x (the SwiGLU MLP's first half).
using SwiGluColsFn = void (*)(const float* x, int64_t m, int64_t k, const TensorView& gate,
                              const TensorView& up, int64_t j0, int64_t j1, float* out);

// Input rows quantized once for block-quantized products by column range (QuantizeActsFn), then
// read by any number of MatMulQColsFn calls (e.g. every column block of every chosen expert, from
// one parallel region). Per 32-block of each row: the int8 values, the scale, and the zero-point
// term of kernels whose weight operand is unsigned. Where each block lies is the kernel table's
// choice (quantize_acts and matmul_q_cols of one table agree; `layout` says which was written):
//   kRowMajor (ref, generic): row after row, q [m, k], scale and zero [m, k/32].
//   kBlockMajor (AVX2, AVX-512): block after block, q [k/32, m, 32], scale and zero [k/32, m], so
//     the rows of a kernel's row tile at one block are one pointer plus compile-time offsets (a
//     run-time row stride cost the x86 tiles a pointer per row, spilled to the stack).
struct QuantActs {
  enum class Layout { kRowMajor, kBlockMajor };
  int64_t m = 0, k = 0;
  DType wtype = DType::kQ8_0;  // the weight format the rows are for
  Layout layout = Layout::kRowMajor;
  std::vector<int8_t> q;       // m * k values: nearest_even(x * 127 / max|x_b|)
  std::vector<float> scale;    // m * k/32: max|x_b| / 127
  // m * k/32: ZeroPoint(wtype) * (sum of q over the block): the block dot against weights stored
  // as v - ZeroPoint (q4_0 nibbles v + 8, q8_0 bytes v + 128) starts from it.
  std::vector<int32_t> zero;

  static constexpr int32_t ZeroPoint(DType t) { return t == DType::kQ4_0 ? -8 : -128; }
  // Element of scale / zero for block b of row i (q: 32 times that).
  int64_t BlockIndex(int64_t i, int64_t b) const {
    return layout == Layout::kRowMajor ? i * (k / kQuantBlock) + b : b * m + i;
  }
  // Sets the shape and layout and grows the buffers to it (never shrinks them: reused scratch).
  void Reset(int64_t rows, int64_t cols, DType weight_type, Layout l) {
    m = rows;
    k = cols;
    wtype = weight_type;
    layout = l;
    const size_t n = static_cast<size_t>(rows * cols), nb = n / kQuantBlock;
    if (q.size() < n) q.resize(n);
    if (scale.size() < nb) scale.resize(nb);
    if (zero.size() < nb) zero.resize(nb);
  }
};

// Quantizes x[m, k] (k a multiple of 32) for weights of format wtype, on the calling thread.
using QuantizeActsFn = void (*)(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a);

// Columns [j0, j1) of y[m, n] = x · w^T for block-quantized w [n, k] (no bias; row stride of y is
// n), with x as quantized by quantize_acts; on the calling thread. The numerics of matmul_q. The
// weights are read in 16-row panels: ranges that start and end on multiples of 16 read no panel
// twice.
using MatMulQColsFn = void (*)(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1,
                               float* y);

// `rows` consecutive key/value rows, each `row_stride` floats apart (contiguous KV, or one block of
// a paged cache).
struct KvSpan {
  const float* data = nullptr;
  int64_t rows = 0;
};

// Single-query attention (decode): out[0..dv) = sum_j softmax_j(scale * q·k_j) v_j over the first
// n_keys rows of the spans, where k_j = row_j[k_offset .. k_offset+dk) and
// v_j = row_j[v_offset .. v_offset+dv); one pass with an online softmax (no score buffer), on the
// calling thread. n_keys = 0 gives zeros.
using AttendOneFn = void (*)(const float* q, int dk, const KvSpan* spans, int num_spans,
                             int64_t row_stride, int64_t k_offset, int64_t v_offset, int dv,
                             int64_t n_keys, float scale, float* out);

struct KernelTable {
  Isa isa = Isa::kRef;
  MatMulFn matmul = nullptr;
  MatMulTransposedFn matmul_t = nullptr;
  MatMulColsFn matmul_cols = nullptr;
  SwiGluColsFn swiglu_cols = nullptr;
  // Same contract as `matmul` for block-quantized w (q8_0 / q4_0, k a multiple of 32): x is
  // quantized per 32-block to int8 and block dots are integer (docs/FORMATS.md).
  MatMulFn matmul_q = nullptr;
  QuantizeActsFn quantize_acts = nullptr;
  MatMulQColsFn matmul_q_cols = nullptr;
  AttendOneFn attend_one = nullptr;
  // s[0, len) = softmax(scale * s[0, len)) in place, s[len, n) = 0 (len >= 1): AttendMany's row
  // softmax. Null: the scalar loop in attention.cc (its reference).
  void (*softmax_row)(float* s, int64_t len, int64_t n, float scale) = nullptr;
  // out[i] = silu(gate[i]) * up[i] and x[i] = gelu_tanh(x[i]) for i < n, on the calling thread
  // (kernels::SiluMul / GeluTanh; ref::SiluMul / GeluTanh are the scalar reference).
  void (*silu_mul)(const float* gate, const float* up, int64_t n, float* out) = nullptr;
  void (*gelu_tanh)(float* x, int64_t n) = nullptr;
  // out = silu(x gate^T) * (x up^T) for many rows in one fused pass where the table has one for
  // these weights and rows (returns false, doing nothing, otherwise); null: none.
  bool (*swiglu_many)(const float* x, int64_t m, int64_t k, const TensorView& gate,
                      const TensorView& up, float* out) = nullptr;
  // y = gelu_tanh(x w^T + bias) in one pass where the table has one for these weights and rows
  // (returns false, doing nothing, otherwise): the activation applied as the products are stored
  // (the GELU's own pass over y had been memory bound). null: none.
  bool (*matmul_gelu_tanh)(const float* x, int64_t m, int64_t k, const TensorView& w,
                           const float* bias, float* y) = nullptr;
  // AttendMany's block at medium precision where the table has a bf16 tile unit (null: MatMuls
  // against gathered K and V^T): for query rows i < rows (q + i * q_stride, dk floats),
  // out[i * out_stride + d] = sum_{j < lens[i]} softmax_j(scale * q_i . k_j) v_j[d] (d < dv),
  // with q, k, the probabilities and v rounded to bf16 (nearest even), f32 accumulation and an
  // f32 softmax. Key j is key_rows[j][k_offset, k_offset + dk), its value
  // key_rows[j][v_offset, v_offset + dv), j < keys; 1 <= lens[i] <= keys. Runs its own parallel
  // region on ThreadPool::Global().
  void (*attend_bf16)(const float* q, int64_t q_stride, int64_t rows, int dk,
                      const float* const* key_rows, int64_t k_offset, int64_t v_offset, int dv,
                      int64_t keys, const int64_t* lens, float scale, float* out,
                      int64_t out_stride) = nullptr;
  // The same block with f32 products (AttendProducts::kF32, and kMatMulPrecision wherever the
  // products are not bf16), where the table has a fused one; null: MatMuls.
  void (*attend_f32)(const float* q, int64_t q_stride, int64_t rows, int dk,
                     const float* const* key_rows, int64_t k_offset, int64_t v_offset, int dv,
                     int64_t keys, const int64_t* lens, float scale, float* out,
                     int64_t out_stride) = nullptr;
};

// Numerics of products of bf16 weights with many input rows (prefill, vision) on kernels that have
// a faster bf16 unit (the AMX table, and the AVX-512 table on CPUs with AVX-512-BF16; elsewhere
// both mean the f32 kernels):
//   kHigh (default): the accuracy of the f32 GEMM (AMX: activations split in 3 bf16 parts);
//   kMedium: activations rounded to bf16 (PyTorch's bf16 autocast; at most 2^-8 relative error per
//     product), about 1.5x faster vision and prefill on AMX (docs/benchmarks/2026-12-01), the
//     vdpbf16ps GEMM on AVX-512-BF16 (docs/benchmarks/2026-12-02b).
// Process-wide, like the active table; set it before work starts.
enum class MatMulPrecision { kHigh, kMedium };
void SetMatMulPrecision(MatMulPrecision p);
MatMulPrecision GetMatMulPrecision();
const char* MatMulPrecisionName(MatMulPrecision p);  // "high" | "medium"
// "high" / "medium" -> p; false for anything else.
bool ParseMatMulPrecision(const std::string& s, MatMulPrecision* p);
// Whether kMedium computes anything differently from kHigh with table t on this CPU.
bool MediumPrecisionChangesResults(const KernelTable& t);
// From how many input rows on t.matmul with weights of dtype w is a GEMM (compute bound) rather
// than a weight-streaming product: callers with a fused few-row alternative (SwiGlu) switch there.
int64_t GemmMinRows(const KernelTable& t, DType w);

// The table for the best ISA this CPU supports (or DSVL2_ISA=ref|generic|avx2|avx512|amx if set).
const KernelTable& Active();
// Tables for every ISA compiled in and supported by this CPU (tests run each against ref).
std::vector<const KernelTable*> AllSupported();
// Forces a table (tests, benchmarks).
void SetActive(Isa isa);

// Convenience wrappers over Active().
inline void MatMul(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y) {
  const KernelTable& t = Active();
  if (w.dtype == DType::kQ8_0 || w.dtype == DType::kQ4_0) {
    t.matmul_q(x, m, k, w, bias, y);
  } else {
    t.matmul(x, m, k, w, bias, y);
  }
}

// y = gelu_tanh(x w^T + bias): the table's fused product where it has one, else MatMul and
// GeluTanh (kernels/ops.h). The fused form applies the same vector expression to every element;
// the unfused one takes the scalar reference for the few elements at the ends of its parallel
// chunks (the vector exp is within ~2e-6 relative of std::exp over the GELU's range).
void MatMulGeluTanh(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y);

inline void MatMulCols(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                       int64_t j1, float* y) {
  Active().matmul_cols(x, m, k, w, j0, j1, y);
}

inline void SwiGluCols(const float* x, int64_t m, int64_t k, const TensorView& gate,
                       const TensorView& up, int64_t j0, int64_t j1, float* out) {
  Active().swiglu_cols(x, m, k, gate, up, j0, j1, out);
}

// Columns [j0, j1) of out[m, n] = silu(x · gate^T) * (x · up^T) for block-quantized gate and up
// (x quantized once by t.quantize_acts), with table t on the calling thread.
void SwiGluQCols(const KernelTable& t, const QuantActs& a, const TensorView& gate, const TensorView& up, int64_t j0,
                 int64_t j1, float* out);

// Up to this many rows, SwiGluWith with block-quantized gate and up (same format) quantizes the
// inputs once and computes both products and the activation in one parallel region.
inline constexpr int64_t kSwiGluQFusedMaxRows = 64;
// out[m, n] = silu(x · gate^T) * (x · up^T) with table t, on the thread pool: few rows use the
// fused single pass (swiglu_cols, or SwiGluQCols for quantized weights), many rows two GEMMs and
// one silu-multiply pass.
void SwiGluWith(const KernelTable& t, const float* x, int64_t m, int64_t k, const TensorView& gate,
                const TensorView& up, float* out);
inline void SwiGlu(const float* x, int64_t m, int64_t k, const TensorView& gate,
                   const TensorView& up, float* out) {
  SwiGluWith(Active(), x, m, k, gate, up, out);
}

inline void MatMulTransposed(const float* x, int64_t m, const TensorView& w, float* y) {
  Active().matmul_t(x, m, w, y);
}

}  // namespace dsvl2::kernels
