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

uint16_t ScaleToF16(float d) { return F32ToF16(std::min(d, kMaxF16)); }

}  // namespace

size_t QuantRowBytes(DType t, int64_t k) {
  const size_t blocks = static_cast<size_t>(k / kQuantBlock);
  switch (t) {
    case DType::kQ8_0: return blocks * (2 + 32);
    case DType::kQ4_0: return blocks * (2 + 16);
    default: break;
  }
  DSVL2_CHECK_MSG(false, std::string("QuantRowBytes on dtype ") + DTypeName(t));
}

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

void QuantizeRow(DType t, const float* x, int64_t k, uint8_t* out) {
  DSVL2_CHECK(k % kQuantBlock == 0);
  const int64_t nb = k / kQuantBlock;
  uint16_t* scales = reinterpret_cast<uint16_t*>(out);
  uint8_t* q = out + 2 * nb;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * kQuantBlock;
    if (t == DType::kQ8_0) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
      const uint16_t h = ScaleToF16(amax / 127.0f);
      std::memcpy(scales + b, &h, 2);
      const float d = F16ToF32(h), id = d > 0 ? 1.0f / d : 0.0f;
      int8_t* qb = reinterpret_cast<int8_t*>(q) + b * 32;
      for (int j = 0; j < 32; ++j)
        qb[j] = static_cast<int8_t>(std::clamp(std::nearbyint(xb[j] * id), -127.0f, 127.0f));
    } else {
      float amax = 0, m = 0;
      for (int j = 0; j < 32; ++j)
        if (std::fabs(xb[j]) > amax) {
          amax = std::fabs(xb[j]);
          m = xb[j];
        }
      // d may be negative (llama.cpp q4_0): the extreme element maps exactly to q = 0 (-8).
      const float dm = m / -8.0f;
      uint16_t h = F32ToF16(std::clamp(dm, -kMaxF16, kMaxF16));
      std::memcpy(scales + b, &h, 2);
      const float d = F16ToF32(h), id = d != 0 ? 1.0f / d : 0.0f;
      uint8_t* qb = q + b * 16;
      for (int j = 0; j < 16; ++j) {
        const int lo = static_cast<int>(std::clamp(std::nearbyint(xb[j] * id) + 8.0f, 0.0f, 15.0f));
        const int hi = static_cast<int>(std::clamp(std::nearbyint(xb[j + 16] * id) + 8.0f, 0.0f, 15.0f));
        qb[j] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
  }
}

float DequantizeElement(DType t, const uint8_t* row, int64_t k, int64_t i) {
  const int64_t nb = k / kQuantBlock, b = i / kQuantBlock, j = i % kQuantBlock;
  uint16_t h;
  std::memcpy(&h, row + 2 * b, 2);
  const float d = F16ToF32(h);
  const uint8_t* q = row + 2 * nb;
  if (t == DType::kQ8_0) return d * static_cast<float>(static_cast<int8_t>(q[i]));
  const uint8_t byte = q[b * 16 + (j & 15)];
  const int v = j < 16 ? (byte & 15) : (byte >> 4);
  return d * static_cast<float>(v - 8);
}

void DequantizeRow(DType t, const uint8_t* row, int64_t k, float* out) {
  for (int64_t i = 0; i < k; ++i) out[i] = DequantizeElement(t, row, k, i);
}

}  // namespace dsvl2
