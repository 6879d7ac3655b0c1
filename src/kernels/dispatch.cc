// Run-time choice of the kernel table by CPU features.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/logging.h"
#include "kernels/cpu/attn.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu_features.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

namespace dsvl2::kernels {
namespace {

const KernelTable kRefTable{Isa::kRef, &ref::MatMul, &ref::MatMulTransposed, &ref::MatMulCols,
                           &ref::SwiGluCols, &ref::MatMulQ, &ref::QuantizeActs,
                           &ref::MatMulQCols, &ref::AttendOne, nullptr, &ref::SiluMul,
                           &ref::GeluTanh};
const KernelTable kGenericTable{Isa::kGeneric, &cpu::MatMulGeneric, &cpu::MatMulTransposedGeneric,
                               &cpu::MatMulColsGeneric, &cpu::SwiGluColsGeneric,
                               &cpu::MatMulQGeneric, &cpu::QuantizeActsGeneric,
                               &cpu::MatMulQColsGeneric, &ref::AttendOne, nullptr,
                               &ref::SiluMul, &ref::GeluTanh};
const KernelTable kAvx2Table{Isa::kAvx2, &cpu::MatMulAvx2, &cpu::MatMulTransposedGeneric,
                            &cpu::MatMulColsAvx2, &cpu::SwiGluColsAvx2, &cpu::MatMulQAvx2, &cpu::QuantizeActsAvx2,
                            &cpu::MatMulQColsAvx2, &cpu::AttendOneAvx2, nullptr, &cpu::SiluMulAvx2,
                            &cpu::GeluTanhAvx2};
const KernelTable kAvx512Table{Isa::kAvx512, &cpu::MatMulAvx512, &cpu::MatMulTransposedGeneric,
                              &cpu::MatMulColsAvx512, &cpu::SwiGluColsAvx512, &cpu::MatMulQAvx512, &cpu::QuantizeActsAvx2,
                              &cpu::MatMulQColsAvx512, &cpu::AttendOneAvx512, &cpu::SoftmaxRowAvx512,
                              &cpu::SiluMulAvx512, &cpu::GeluTanhAvx512, &cpu::SwiGluManyAvx512,
                              nullptr, nullptr, &cpu::AttendF32Avx512};
const KernelTable kAmxTable{Isa::kAmx, &cpu::MatMulAmx, &cpu::MatMulTransposedGeneric,
                           &cpu::MatMulColsAvx512, &cpu::SwiGluColsAvx512, &cpu::MatMulQAvx512, &cpu::QuantizeActsAvx2,
                           &cpu::MatMulQColsAvx512, &cpu::AttendOneAvx512, &cpu::SoftmaxRowAvx512,
                           &cpu::SiluMulAvx512, &cpu::GeluTanhAvx512, nullptr,
                           &cpu::MatMulGeluTanhAmx, &cpu::AttendAmx, &cpu::AttendF32Avx512};

constexpr Isa kAllIsas[] = {Isa::kRef, Isa::kGeneric, Isa::kAvx2, Isa::kAvx512, Isa::kAmx};

bool Supported(Isa isa) {
  switch (isa) {
    case Isa::kRef:
    case Isa::kGeneric: return true;
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c");
    // The AVX-512 table's quantized products are VNNI (vpdpbusd) and its translation unit is
    // compiled for it: AVX-512 without VNNI (Skylake-SP) takes the AVX2 table.
    case Isa::kAvx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                              __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                              __builtin_cpu_supports("avx512vnni");
    case Isa::kAmx: return Supported(Isa::kAvx512) && AmxBf16Usable();
  }
  return false;
}

const KernelTable* TableFor(Isa isa) {
  switch (isa) {
    case Isa::kRef: return &kRefTable;
    case Isa::kGeneric: return &kGenericTable;
    case Isa::kAvx2: return &kAvx2Table;
    case Isa::kAvx512: return &kAvx512Table;
    case Isa::kAmx: return &kAmxTable;
  }
  return nullptr;
}

const KernelTable* Best() {
  if (const char* env = std::getenv("DSVL2_ISA")) {
    for (Isa isa : kAllIsas) {
      if (std::strcmp(env, IsaName(isa)) == 0) {
        if (Supported(isa) && TableFor(isa)) return TableFor(isa);
        LogWarning(std::string("DSVL2_ISA=") + env + " is not available on this CPU/build; ignored");
      }
    }
  }
  for (Isa isa : {Isa::kAmx, Isa::kAvx512, Isa::kAvx2})
    if (Supported(isa) && TableFor(isa)) return TableFor(isa);
  return &kGenericTable;
}

std::atomic<const KernelTable*> g_active{nullptr};
std::atomic<MatMulPrecision> g_precision{MatMulPrecision::kHigh};

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kRef: return "ref";
    case Isa::kGeneric: return "generic";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAmx: return "amx";
  }
  return "?";
}

const KernelTable& Active() {
  const KernelTable* t = g_active.load(std::memory_order_acquire);
  if (!t) {
    t = Best();
    g_active.store(t, std::memory_order_release);
  }
  return *t;
}

std::vector<const KernelTable*> AllSupported() {
  std::vector<const KernelTable*> out;
  for (Isa isa : kAllIsas)
    if (Supported(isa) && TableFor(isa)) out.push_back(TableFor(isa));
  return out;
}

void SetMatMulPrecision(MatMulPrecision p) { g_precision.store(p, std::memory_order_relaxed); }
MatMulPrecision GetMatMulPrecision() { return g_precision.load(std::memory_order_relaxed); }
const char* MatMulPrecisionName(MatMulPrecision p) { return p == MatMulPrecision::kMedium ? "medium" : "high"; }
bool ParseMatMulPrecision(const std::string& s, MatMulPrecision* p) {
  if (s == "high") {
    *p = MatMulPrecision::kHigh;
  } else if (s == "medium") {
    *p = MatMulPrecision::kMedium;
  } else {
    return false;
  }
  return true;
}

bool MediumPrecisionChangesResults(const KernelTable& t) {
  return t.isa == Isa::kAmx || (t.isa == Isa::kAvx512 && cpu::Avx512Bf16Preferred());
}

int64_t GemmMinRows(const KernelTable& t, DType w) {
  // bf16 at medium on AVX-512-BF16: the few-row vdpbf16ps kernel from kBf16SmallMinRows on.
  if (t.isa == Isa::kAvx512 && w == DType::kBF16 && GetMatMulPrecision() == MatMulPrecision::kMedium &&
      cpu::Avx512Bf16Preferred())
    return cpu::kBf16SmallMinRows;
  if (t.isa == Isa::kAvx2 && w == DType::kBF16) return cpu::kGemmMinRowsAvx2Bf16;
  // bf16 otherwise on AVX-512: the transposed f32 kernel from kF32SmallMinRows on.
  if (t.isa == Isa::kAvx512 && w == DType::kBF16) return cpu::kF32SmallMinRows;
  return cpu::kGemmMinRows;
}

void SetActive(Isa isa) {
  const KernelTable* t = TableFor(isa);
  DSVL2_CHECK_MSG(t && Supported(isa), std::string("ISA not available: ") + IsaName(isa));
  g_active.store(t, std::memory_order_release);
}

}  // namespace dsvl2::kernels
