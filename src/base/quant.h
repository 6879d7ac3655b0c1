// Block-quantized weight formats (docs/FORMATS.md). A quantized tensor [..., k] is stored row by
// row (every leading index is a row); k must be a multiple of kQuantBlock = 32. One row is
//   [k/32 float16 scales d_b][quants]
//   q8_0: quants = k int8;  element 32b+j = d_b * q
//   q4_0: quants = k/2 bytes, 16 per block; byte j of block b holds element 32b+j in its low
//         nibble and element 32b+16+j in its high nibble (0..15);  element = d_b * (q - 8)
// so q8_0 costs 1.0625 and q4_0 0.5625 bytes per weight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/tensor.h"

namespace dsvl2 {

constexpr int64_t kQuantBlock = 32;

inline bool IsQuantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }
// Bytes of one quantized row of k elements (k a multiple of 32).
size_t QuantRowBytes(DType t, int64_t k);
// The lower-case format name used on disk and in flags: "q8_0", "q4_0"; ParseQuantFormat
// accepts those (and "q8"/"q4").
const char* QuantFormatName(DType t);
bool ParseQuantFormat(const std::string& s, DType* out);

// Quantizes one row (round to nearest; q8_0: d = max|x|/127; q4_0: d = -x_m/8 where x_m is the
// element of largest magnitude, as llama.cpp's q4_0). `out` receives QuantRowBytes(t, k) bytes.
void QuantizeRow(DType t, const float* x, int64_t k, uint8_t* out);
// Inverse: out[k] = the values the row stands for.
void DequantizeRow(DType t, const uint8_t* row, int64_t k, float* out);
// Element i (< k) of one row.
float DequantizeElement(DType t, const uint8_t* row, int64_t k, int64_t i);

}  // namespace dsvl2
