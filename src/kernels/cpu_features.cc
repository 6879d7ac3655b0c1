#include "kernels/cpu_features.h"

#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

namespace dsvl2::kernels {
namespace {

struct AmxState {
  bool tile = false, bf16 = false, int8 = false, granted = false;
};

AmxState Probe() {
  AmxState s;
#if defined(__x86_64__) && defined(__linux__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return s;
  s.bf16 = (d >> 22) & 1;
  s.tile = (d >> 24) & 1;
  s.int8 = (d >> 25) & 1;
  if (!s.tile) return s;
  // XTILEDATA is state component 18; the request succeeds (or was already granted) or the kernel
  // refuses (old kernel, seccomp, hypervisor without AMX state), in which case AMX is unusable.
  constexpr long kArchReqXcompPerm = 0x1023, kArchGetXcompPerm = 0x1022, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return s;
  uint64_t mask = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &mask) != 0) return s;
  s.granted = (mask >> kXfeatureXtiledata) & 1;
#endif
  return s;
}

const AmxState& State() {
  static const AmxState s = Probe();
  return s;
}

}  // namespace

bool AmxBf16Usable() { return State().granted && State().bf16 && __builtin_cpu_supports("avx512bf16"); }
bool AmxInt8Usable() { return State().granted && State().int8; }

}  // namespace dsvl2::kernels
