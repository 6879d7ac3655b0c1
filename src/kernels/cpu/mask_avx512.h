// Lane masks for the tails of AVX-512 loops (included only by translation units compiled with
// AVX-512).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace dsvl2::kernels::cpu {

// The first `left` of 16 lanes: all of them from 16 on, none at 0 or below.
inline __mmask16 Mask16(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff)
         : left <= 0 ? static_cast<__mmask16>(0)
                     : static_cast<__mmask16>((1u << left) - 1);
}

}  // namespace dsvl2::kernels::cpu
