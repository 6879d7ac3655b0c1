// SIMD pieces of AttendMany (kernels/attention.cc), compiled per ISA; the scalar loop in
// attention.cc is their reference.
#pragma once

#include <cstdint>

namespace dsvl2::kernels::cpu {

// s[0, len) = softmax(scale * s[0, len)) in place, s[len, n) = 0. Requires len >= 1.
void SoftmaxRowAvx512(float* s, int64_t len, int64_t n, float scale);

// AttendMany's block in f32 (cpu/attn_fused_avx512.cc; KernelTable::attend_f32).
void AttendF32Avx512(const float* q, int64_t q_stride, int64_t rows, int dk, const float* const* key_rows,
                     int64_t k_offset, int64_t v_offset, int dv, int64_t keys, const int64_t* lens,
                     float scale, float* out, int64_t out_stride);

// AttendMany's block in bf16 on AMX tiles (cpu/attn_amx.cc; KernelTable::attend_bf16).
void AttendAmx(const float* q, int64_t q_stride, int64_t rows, int dk, const float* const* key_rows,
               int64_t k_offset, int64_t v_offset, int dv, int64_t keys, const int64_t* lens,
               float scale, float* out, int64_t out_stride);

}  // namespace dsvl2::kernels::cpu
