// What this CPU and operating system let the kernels use, beyond __builtin_cpu_supports: the AMX
// tile instructions need both the CPUID bits and the kernel's permission for the large tile state
// (Linux arch_prctl ARCH_REQ_XCOMP_PERM), requested once for the whole process.
#pragma once

namespace dsvl2::kernels {

// AMX-TILE and AMX-BF16 reported by CPUID and the tile state granted by the OS (first call asks).
bool AmxBf16Usable();
// AMX-INT8 as well (the int8 peak of the machine-limit microbenchmark).
bool AmxInt8Usable();

}  // namespace dsvl2::kernels
