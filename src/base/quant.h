// Block-quantized weight formats (docs/FORMATS.md). A quantized matrix [n, k] (every leading
// index of a higher-rank tensor is a row) has k a multiple of kQuantBlock = 32; element (j, i)
// stands for d_b(j) * v, with one float16 scale d_b per row and 32-block b = i / 32 and an integer
// v (q8_0: int8 in [-127, 127]; q4_0: a nibble q in [0, 15], v = q - 8).
//
// Rows are stored in panels of kQuantPanel = 16 rows (n is padded up to a multiple of 16 with
// zero rows), panel after panel; a panel is 16 x QuantRowBytes(k) bytes, block after block. One
// block of a panel (the 16 rows' elements 32b..32b+31) is
//   [16 float16 scales d_b of rows 0..15]
//   q8_0: 8 chunks c = 0..7 of 64 bytes; byte 4r+e of chunk c = v of row r, element 32b+4c+e
//   q4_0: 4 chunks c = 0..3 of 64 bytes; byte 4r+e of chunk c holds, of row r, element
//         32b+4c+e in its low nibble and element 32b+16+4c+e in its high nibble
// so one 64-byte load gives 16 rows x 4 consecutive elements (x2 for q4_0), the operand shape of
// a 4-way integer dot product (vpdpbusd, vpmaddubsw) against 4 broadcast activation bytes.
// Bytes per weight: q8_0 (2 + 32) / 32 = 1.0625, q4_0 (2 + 16) / 32 = 0.5625.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/tensor.h"

namespace dsvl2 {

constexpr int64_t kQuantBlock = 32;
constexpr int64_t kQuantPanel = 16;

inline bool IsQuantized(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }
// Bytes one row of k elements accounts for (k a multiple of 32): blocks x (2 + 32 | 2 + 16).
size_t QuantRowBytes(DType t, int64_t k);
// Bytes of one 32-block of one row (34 | 18); a panel's block is 16 times that.
size_t QuantBlockBytes(DType t);
// Bytes of one panel of 16 rows (16 x QuantRowBytes).
inline size_t QuantPanelBytes(DType t, int64_t k) { return static_cast<size_t>(kQuantPanel) * QuantRowBytes(t, k); }
// Rows rounded up to whole panels.
inline int64_t QuantPaddedRows(int64_t n) { return (n + kQuantPanel - 1) / kQuantPanel * kQuantPanel; }
// Bytes of a quantized [n, k] matrix (whole panels).
inline size_t QuantMatrixBytes(DType t, int64_t n, int64_t k) {
  return static_cast<size_t>(QuantPaddedRows(n) / kQuantPanel) * QuantPanelBytes(t, k);
}
// The lower-case format name used in flags and messages: "q8_0", "q4_0"; ParseQuantFormat
// accepts those (and "q8"/"q4").
const char* QuantFormatName(DType t);
bool ParseQuantFormat(const std::string& s, DType* out);
// The name of the stored layout in safetensors metadata: "q8_0x16", "q4_0x16" (16-row panels).
const char* QuantLayoutName(DType t);
bool ParseQuantLayout(const std::string& s, DType* out);

// Quantizes rows [0, rows) of x (row stride k; rows <= 16) into one panel of
// QuantPanelBytes(t, k) bytes; rows past `rows` are zero (scale 0). Round to nearest; q8_0:
// d = max|x|/127; q4_0: d = -x_m/8 where x_m is the element of largest magnitude (llama.cpp's
// q4_0, so x_m is exact).
void QuantizePanel(DType t, const float* x, int64_t rows, int64_t k, uint8_t* panel);
// Quantizes x[n, k] into QuantMatrixBytes(t, n, k) bytes at out (on the calling thread).
void QuantizeMatrix(DType t, const float* x, int64_t n, int64_t k, uint8_t* out);

// Readers of a quantized matrix at `data` with rows of k elements.
// Scale d_b of row j.
float QuantScale(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t b);
// The integer v of element (j, i): q8_0 q, q4_0 q - 8.
int QuantValue(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t i);
// d_b(j) * v(j, i).
float DequantizeAt(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t i);
// out[k] = row j as floats.
void DequantizeRow(DType t, const uint8_t* data, int64_t k, int64_t j, float* out);

}  // namespace dsvl2
