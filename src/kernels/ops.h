// Element-wise and row-wise operations used by the model (float32). These are small next to the
// matrix products; they run the reference loop, parallelised over rows where it matters, except
// SiluMul and GeluTanh, which take the active kernel table's vector form (KernelTable::silu_mul).
#pragma once

#include <cstdint>

namespace dsvl2::kernels {

// y = x / sqrt(mean(x^2) + eps) * w, per row of length n (w: n floats).
void RmsNorm(const float* x, const float* w, int64_t rows, int64_t n, float eps, float* y);
// y = (x - mean) / sqrt(var + eps) * w + b, per row.
void LayerNorm(const float* x, const float* w, const float* b, int64_t rows, int64_t n, float eps,
               float* y);
// In-place activations.
void GeluTanh(float* x, int64_t n);
void GeluErf(float* x, int64_t n);
// out[i] = silu(gate[i]) * up[i]
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
// In-place softmax over a row of length n.
void Softmax(float* x, int64_t n);
// y += a * x
void Axpy(float a, const float* x, int64_t n, float* y);
void Add(const float* x, int64_t n, float* y);  // y += x (on the pool from 65536 elements)

// Rotary embedding of one head vector of length `dim` at `pos` with inv_freq[dim/2].
// NeoX / rotate_half layout: pairs (i, i + dim/2).
void RopeNeox(float* v, int dim, const float* cos, const float* sin);
// GPT-J / interleaved layout: pairs (2i, 2i+1). Output left in pair order (see docs/DESIGN.md).
void RopeInterleaved(float* v, int dim, const float* cos, const float* sin);

}  // namespace dsvl2::kernels
