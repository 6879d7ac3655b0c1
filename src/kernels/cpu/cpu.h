// CPU kernels, one translation unit per instruction set (compiled with its own -m flags).
#pragma once

#include <cmath>

#include "kernels/kernels.h"

namespace dsvl2::kernels::cpu {

// From this many input rows on, the SIMD matrix products use the packed, cache-blocked GEMM
// (gemm_driver.h); fewer rows (decode, batched decode, small experts in prefill) stream the
// weights once through the small-m tiles. 32 was chosen with `dsvl2 bench` on vl2-tiny (2-core
// EPYC): against 16 it gave batch-16 decode 91 vs 65 tok/s and 512-token prefill 208 vs 183;
// 64 was no better than 32 (packing a weight block costs more than it saves for < 32 rows).
constexpr int64_t kGemmMinRows = 32;

inline bool IsFloatDType(DType t) { return t == DType::kF32 || t == DType::kBF16 || t == DType::kF16; }

// silu(g) * u, the same expression as kernels::SiluMul.
inline float SiluTimes(float g, float u) { return g / (1.0f + std::exp(-g)) * u; }

// Element-wise activations with the vector exp (cpu/activations_*.cc; KernelTable::silu_mul,
// gelu_tanh).
void SiluMulAvx2(const float* gate, const float* up, int64_t n, float* out);
void GeluTanhAvx2(float* x, int64_t n);
void SiluMulAvx512(const float* gate, const float* up, int64_t n, float* out);
void GeluTanhAvx512(float* x, int64_t n);

// Portable blocked kernel (any x86-64 / ARM); used when no SIMD table applies.
void MatMulGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y);
void MatMulColsGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                       int64_t j1, float* y);
void SwiGluColsGeneric(const float* x, int64_t m, int64_t k, const TensorView& gate,
                       const TensorView& up, int64_t j0, int64_t j1, float* out);
void MatMulTransposedGeneric(const float* x, int64_t m, const TensorView& w, float* y);

void MatMulAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                float* y);
void MatMulColsAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                    int64_t j1, float* y);
void SwiGluColsAvx2(const float* x, int64_t m, int64_t k, const TensorView& gate,
                    const TensorView& up, int64_t j0, int64_t j1, float* out);
void GemmAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
              float* y);
// bf16 weights and fewer than kGemmMinRowsAvx2Bf16 rows, decode's single row included
// (cpu/matmul_bf16_rows_avx2.cc: 16 weights widened by a shift and an and, each feeding 3 rows;
// the x rows permuted once per call to match; the next weight rows prefetched). f32 activations.
// On the Zen 3 of docs/benchmarks/2026-12-03b (AVX2 only, moe_experts_bench, 704 cold vl2-tiny
// experts, two sets of 2 alternated rounds) against the 4 x 2 tiles of matmul_avx2.cc: 1.1-1.3x
// at 1 row, 1.3-2.4x at 4-24 rows; against the packed GEMM: 32 rows 1139-1179 ms / 1450-1455,
// 48 rows 1629-2027 / 1736-1878 (even), 64 rows even. Hence the GEMM from 48 rows for bf16 on AVX2.
constexpr int64_t kGemmMinRowsAvx2Bf16 = 48;
void MatMulBf16RowsAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                        float* y);
void MatMulColsBf16RowsAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0, int64_t j1,
                            float* y);
void SwiGluColsBf16RowsAvx2(const float* x, int64_t m, int64_t k, const TensorView& gate, const TensorView& up,
                            int64_t j0, int64_t j1, float* out);

void MatMulAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                  float* y);
void MatMulColsAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                      int64_t j1, float* y);
void SwiGluColsAvx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                      const TensorView& up, int64_t j0, int64_t j1, float* out);
void GemmAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                float* y);
// AVX-512-BF16 (cpu/gemm_bf16_avx512.cc): the packed GEMM for bf16 weights with activations
// rounded to bf16 (vdpbf16ps), which MatMulAvx512 takes at MatMulPrecision::kMedium, where the CPU
// has it, for products whose activations exceed the transposed form's budget (below).
bool Avx512Bf16Usable();
// Whether the medium-precision bf16 kernels are worth taking: the CPU has AVX-512-BF16 and its
// vdpbf16ps does more multiply-adds per second than its f32 FMA (measured once, on first use, by
// the peak loops of cpu/peak_avx512.cc: ~1 ms). Where it does not (an Intel Xeon without AMX,
// docs/benchmarks/2026-12-03c: half the FMA's rate, so medium-precision vision ran at 0.64x the
// high-precision speed), medium precision takes the f32 kernels and changes no result
// (kernels::MediumPrecisionChangesResults). MatMulAvx512 and kernels::GemmMinRows ask this.
bool Avx512Bf16Preferred();
// Tests: 1 / 0 force Avx512Bf16Preferred (1 only where Avx512Bf16Usable), -1 measures again.
void SetAvx512Bf16PreferredForTest(int preferred);
void GemmAvx512Bf16(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias, float* y);
// Its transposed form (cpu/gemm_bf16_small_avx512.cc: weights read in place, not packed), which
// MatMulAvx512 takes at kMedium from kBf16SmallMinRows rows on while the activations, packed as
// bf16 (m x k x 2 bytes), fit in kBf16SmallMaxXBytes: it re-reads all of them for every 14 weight
// rows, so they must stay in cache; larger products take the packed GEMM. On Zen 5 (2 vCPUs,
// gemm_bench, 3 alternated rounds) it was 15-40% faster than the packed GEMM on every SigLIP and
// prefill shape up to 1024 x 1280 and 512 x 6848 (docs/benchmarks/2026-12-02c); it was first used
// for 16-128 rows only (Zen 4, docs/benchmarks/2026-12-02b). From 12 rows on since 2026-12-03:
// with the next weight group prefetched it overlaps cold weight reads better than the dot-rows
// kernel (moe_experts_bench, 704 cold experts at 15 rows: 136-164 ms against 183-205 ms; equal at
// 12 rows).
constexpr int64_t kBf16SmallMinRows = 12;
constexpr int64_t kBf16SmallMaxXBytes = int64_t{8} << 20;
inline bool Bf16SmallFits(int64_t m, int64_t k) { return m * k * 2 <= kBf16SmallMaxXBytes; }
void GemmAvx512Bf16Small(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                         float* y);
// out = silu(x gate^T) * (x up^T) in the same form: x packed once, each group of 14 columns of
// gate then of up, SiLU per group (one parallel region instead of two products and a pass).
void SwiGluAvx512Bf16Small(const float* x, int64_t m, int64_t k, const TensorView& gate,
                           const TensorView& up, float* out);
// SwiGluAvx512Bf16Small where MatMulAvx512 would take GemmAvx512Bf16Small for both products
// (bf16 at medium, kBf16SmallMinRows rows on, x within budget); false (nothing done) otherwise.
bool SwiGluManyAvx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                      const TensorView& up, float* out);
// And below kBf16SmallMinRows (cpu/matmul_bf16_rows_avx512.cc: dot products along k, so no lane
// is idle for any row count): MatMulAvx512 from 2 rows, MatMulColsAvx512 and SwiGluColsAvx512 for
// any rows but 1 (one row is decode's matvec, which is bound by memory and keeps f32 activations).
constexpr int64_t kBf16RowsMinRows = 2;
void MatMulBf16RowsAvx512(const float* x, int64_t m, int64_t k, const TensorView& w,
                          const float* bias, float* y);
void MatMulColsBf16RowsAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                              int64_t j1, float* y);
void SwiGluColsBf16RowsAvx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                              const TensorView& up, int64_t j0, int64_t j1, float* out);

// And bf16 weights with f32 activations (MatMulPrecision::kHigh, or kMedium where the bf16 kernels
// above do not apply) from 2 to kGemmMinRowsAvx512Bf16 - 1 rows (cpu/matmul_bf16_rows_f32_avx512.cc:
// the AVX2 kernel's scheme with 32 weights per load, 8 x 3 register tiles; MatMulAvx512,
// MatMulColsAvx512, SwiGluColsAvx512); from kGemmMinRowsAvx512Bf16 rows the packed f32 GEMM, and
// one row (decode's matvec) the 4 x 1 tiles of matmul_avx512.cc. On the 2-vCPU Intel Xeon (family 6
// model 207, no AMX exposed) of docs/benchmarks/2026-12-03c, moe_experts_bench (704 cold vl2-tiny
// experts, 2 alternated rounds) against the 4 x 2 tiles / the GEMM from 32 rows: 4 rows 1.3-1.55x,
// 8-24 rows 1.6-2.2x, 32-40 rows 1.25-1.4x, 48 rows even, 64 rows the GEMM 5-10% faster; one row
// even there, but the in-cache matvecs of gemm_bench --decode ran 10-30% slower, hence the old tiles
// for one row.
constexpr int64_t kGemmMinRowsAvx512Bf16 = 48;
void MatMulBf16RowsF32Avx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                             float* y);
void MatMulColsBf16RowsF32Avx512(const float* x, int64_t m, int64_t k, const TensorView& w, int64_t j0,
                                 int64_t j1, float* y);
void SwiGluColsBf16RowsF32Avx512(const float* x, int64_t m, int64_t k, const TensorView& gate,
                                 const TensorView& up, int64_t j0, int64_t j1, float* out);

// And bf16 (or f32) weights with f32 activations from kF32SmallMinRows rows while x, packed as f32 in tiles
// of 32 rows (F32SmallFits), takes at most kF32SmallMaxXBytes (cpu/gemm_bf16_f32_small_avx512.cc:
// the transposed form of GemmAvx512Bf16Small with each group of 14 weight rows converted to f32
// once, not transposed; MatMulAvx512, SwiGluManyAvx512). x is re-read for every group, so it must
// stay in L2. Chosen on the Intel Xeon of docs/benchmarks/2026-12-04 (bf16_forms_bench: ahead of
// the dot-rows kernel from 16 rows but at 24, of the packed GEMM up to 384 x 1280, 1.9 MiB, even).
// From kGemmMinRowsAvx512Bf16 rows the packed GEMM comes out ahead of it on hot weights or a short
// k (k = 64-192 at 64 rows, every k <= 512 at 256 rows: attention's Q K^T, SigLIP's 729 rows), so
// there it is taken only up to kF32SmallMaxRows rows with k >= kF32SmallMinK (MoE experts,
// short prompts). F32SmallChosen(m, k) is the whole rule.
constexpr int64_t kF32SmallMinRows = 16;
constexpr int64_t kF32SmallMaxRows = 128;
constexpr int64_t kF32SmallMinK = 256;
constexpr int64_t kF32SmallMaxXBytes = int64_t{2} << 20;
bool F32SmallFits(int64_t m, int64_t k);
bool F32SmallChosen(int64_t m, int64_t k);
void GemmAvx512Bf16F32Small(const float* x, int64_t m, int64_t k, const TensorView& w,
                            const float* bias, float* y);
void SwiGluAvx512Bf16F32Small(const float* x, int64_t m, int64_t k, const TensorView& gate,
                              const TensorView& up, float* out);
// AMX (cpu/gemm_amx.cc). From kAmxMinRows input rows on, bf16 weights go through the tile GEMM with
// each activation split into kAmxBf16Terms bf16 parts (3: the accuracy of the f32 GEMM, see the
// file comment), or 1 part at MatMulPrecision::kMedium; everything else is MatMulAvx512.
constexpr int64_t kAmxMinRows = 16;
constexpr int kAmxBf16Terms = 3;
void MatMulAmx(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
               float* y);
// The tile GEMM itself for bf16 w and k >= 32, activations in `terms` (1..3) bf16 parts; with
// gelu, y = gelu_tanh(x w^T + bias) (the vector GELU applied as the tiles are stored).
void GemmAmxBf16(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                 float* y, int terms, bool gelu = false);
// KernelTable::matmul_gelu_tanh: the fused GELU where MatMulAmx takes the tile GEMM.
bool MatMulGeluTanhAmx(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                       float* y);
// Block-quantized weights (q8_0 / q4_0): the numerics of ref::MatMulQ.
void MatMulQGeneric(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                    float* y);
void QuantizeActsGeneric(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a);
void MatMulQColsGeneric(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y);
// The x86 kernel sets fill and read the block-major QuantActs layout (the AVX-512 table quantizes
// with QuantizeActsAvx2); AVX-512 without VNNI runs AVX2's products.
void QuantizeActsAvx2(const float* x, int64_t m, int64_t k, DType wtype, QuantActs* a);
void MatMulQColsAvx2(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y);
void MatMulQColsAvx512(const QuantActs& a, const TensorView& w, int64_t j0, int64_t j1, float* y);
void MatMulQAvx2(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                 float* y);
void MatMulQAvx512(const float* x, int64_t m, int64_t k, const TensorView& w, const float* bias,
                   float* y);

// Single-query attention (AttendOneFn) in blocks of 8 / 16 keys: scores as SIMD dot products, one
// vector exp per block, the output rescaled once per block (cpu/attn_*.cc).
void AttendOneAvx2(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
                   int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale, float* out);
void AttendOneAvx512(const float* q, int dk, const KvSpan* spans, int num_spans, int64_t row_stride,
                     int64_t k_offset, int64_t v_offset, int dv, int64_t n_keys, float scale, float* out);

}  // namespace dsvl2::kernels::cpu
