#include "base/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/half.h"
#include "base/logging.h"

namespace dsvl2 {
namespace {

// Largest finite float16 (scales are clamped to it; weights that large saturate).
constexpr float kMaxF16 = 65504.0f;

// One row's 32-block quantized: its f16 scale and integers v (q8_0: -127..127, q4_0: 0..15).
uint16_t QuantizeBlock(DType t, const float* xb, int8_t* v) {
  if (t == DType::kQ8_0) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const uint16_t h = F32ToF16(std::min(amax / 127.0f, kMaxF16));
    const float d = F16ToF32(h), id = d > 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) v[j] = static_cast<int8_t>(std::clamp(std::nearbyint(xb[j] * id), -127.0f, 127.0f));
    return h;
  }
  float amax = 0, m = 0;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(xb[j]) > amax) {
      amax = std::fabs(xb[j]);
      m = xb[j];
    }
  // d may be negative (llama.cpp q4_0): the extreme element maps exactly to q = 0 (-8).
  const uint16_t h = F32ToF16(std::clamp(m / -8.0f, -kMaxF16, kMaxF16));
  const float d = F16ToF32(h), id = d != 0 ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) v[j] = static_cast<int8_t>(std::clamp(std::nearbyint(xb[j] * id) + 8.0f, 0.0f, 15.0f));
  return h;
}

// Start of the block b of the panel holding row j, and j's index in the panel.
const uint8_t* BlockOf(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t b, int* r) {
  *r = static_cast<int>(j % kQuantPanel);
  return data + static_cast<size_t>(j / kQuantPanel) * QuantPanelBytes(t, k) +
         static_cast<size_t>(b) * kQuantPanel * QuantBlockBytes(t);
}

}  // namespace

size_t QuantBlockBytes(DType t) {
  switch (t) {
    case DType::kQ8_0: return 2 + 32;
    case DType::kQ4_0: return 2 + 16;
    default: break;
  }
  DSVL2_CHECK_MSG(false, std::string("QuantBlockBytes on dtype ") + DTypeName(t));
}

size_t QuantRowBytes(DType t, int64_t k) { return static_cast<size_t>(k / kQuantBlock) * QuantBlockBytes(t); }

const char* QuantFormatName(DType t) {
  return t == DType::kQ8_0 ? "q8_0" : t == DType::kQ4_0 ? "q4_0" : "?";
}

bool ParseQuantFormat(const std::string& s, DType* out) {
  if (s == "q8_0" || s == "q8") {
    *out = DType::kQ8_0;
    return true;
  }
  if (s == "q4_0" || s == "q4") {
    *out = DType::kQ4_0;
    return true;
  }
  return false;
}

const char* QuantLayoutName(DType t) {
  return t == DType::kQ8_0 ? "q8_0x16" : t == DType::kQ4_0 ? "q4_0x16" : "?";
}

bool ParseQuantLayout(const std::string& s, DType* out) {
  if (s == "q8_0x16") {
    *out = DType::kQ8_0;
    return true;
  }
  if (s == "q4_0x16") {
    *out = DType::kQ4_0;
    return true;
  }
  return false;
}

void QuantizePanel(DType t, const float* x, int64_t rows, int64_t k, uint8_t* panel) {
  DSVL2_CHECK(IsQuantized(t) && k % kQuantBlock == 0 && rows >= 0 && rows <= kQuantPanel);
  const int64_t nb = k / kQuantBlock;
  const size_t block_bytes = kQuantPanel * QuantBlockBytes(t);
  int8_t v[kQuantPanel][32];
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* blk = panel + static_cast<size_t>(b) * block_bytes;
    uint16_t* scales = reinterpret_cast<uint16_t*>(blk);
    uint8_t* q = blk + 2 * kQuantPanel;
    for (int r = 0; r < kQuantPanel; ++r) {
      uint16_t h = 0;
      if (r < rows) {
        h = QuantizeBlock(t, x + r * k + b * kQuantBlock, v[r]);
      } else {
        std::fill(v[r], v[r] + 32, static_cast<int8_t>(t == DType::kQ8_0 ? 0 : 8));
      }
      std::memcpy(scales + r, &h, 2);
    }
    if (t == DType::kQ8_0) {
      for (int c = 0; c < 8; ++c)
        for (int r = 0; r < kQuantPanel; ++r)
          for (int e = 0; e < 4; ++e) q[64 * c + 4 * r + e] = static_cast<uint8_t>(v[r][4 * c + e]);
    } else {
      for (int c = 0; c < 4; ++c)
        for (int r = 0; r < kQuantPanel; ++r)
          for (int e = 0; e < 4; ++e)
            q[64 * c + 4 * r + e] = static_cast<uint8_t>(v[r][4 * c + e] | (v[r][16 + 4 * c + e] << 4));
    }
  }
}

void QuantizeMatrix(DType t, const float* x, int64_t n, int64_t k, uint8_t* out) {
  for (int64_t p = 0; p * kQuantPanel < n; ++p)
    QuantizePanel(t, x + p * kQuantPanel * k, std::min(kQuantPanel, n - p * kQuantPanel), k,
                  out + static_cast<size_t>(p) * QuantPanelBytes(t, k));
}

float QuantScale(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t b) {
  int r;
  const uint8_t* blk = BlockOf(t, data, k, j, b, &r);
  uint16_t h;
  std::memcpy(&h, blk + 2 * r, 2);
  return F16ToF32(h);
}

int QuantValue(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t i) {
  int r;
  const uint8_t* q = BlockOf(t, data, k, j, i / kQuantBlock, &r) + 2 * kQuantPanel;
  const int e = static_cast<int>(i % kQuantBlock);
  if (t == DType::kQ8_0) return static_cast<int8_t>(q[64 * (e / 4) + 4 * r + e % 4]);
  const int lo = e % 16;
  const uint8_t byte = q[64 * (lo / 4) + 4 * r + lo % 4];
  return (e < 16 ? (byte & 15) : (byte >> 4)) - 8;
}

float DequantizeAt(DType t, const uint8_t* data, int64_t k, int64_t j, int64_t i) {
  return QuantScale(t, data, k, j, i / kQuantBlock) * static_cast<float>(QuantValue(t, data, k, j, i));
}

void DequantizeRow(DType t, const uint8_t* data, int64_t k, int64_t j, float* out) {
  for (int64_t i = 0; i < k; ++i) out[i] = DequantizeAt(t, data, k, j, i);
}

}  // namespace dsvl2
