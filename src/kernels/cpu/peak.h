// The per-ISA loops behind kernels/microbench.h (one translation unit per instruction set).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dsvl2::kernels::cpu {

// Each runs `iters` iterations of independent multiply-add chains and returns the ops done.
double PeakF32FmaAvx2(int64_t iters);
double PeakInt8Avx2(int64_t iters);
double PeakF32FmaAvx512(int64_t iters);
double PeakBf16DotAvx512(int64_t iters);
double PeakInt8VnniAvx512(int64_t iters);
// AMX tile multiply-adds (the caller checks AmxBf16Usable / AmxInt8Usable first).
double PeakBf16Amx(int64_t iters);
double PeakInt8Amx(int64_t iters);

// Reads [p, p + bytes) (64-byte aligned, bytes a multiple of 256) and returns a checksum so the
// loads cannot be optimised away.
uint64_t ReadAllAvx2(const void* p, size_t bytes);
uint64_t ReadAllAvx512(const void* p, size_t bytes);

}  // namespace dsvl2::kernels::cpu
