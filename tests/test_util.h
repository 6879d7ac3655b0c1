// Helpers shared by tests: data paths, temp dirs, float comparison.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"

namespace dsvl2::testing {

// Root of tests/data (fixtures copied from the official implementation's outputs).
std::string DataDir();
// A fresh, empty temporary directory, removed at process exit.
std::string MakeTempDir();
// max |a-b| and max |b|.
struct Diff {
  double max_abs = 0;
  double max_ref = 0;
};
Diff Compare(const float* a, const float* b, size_t n);

// The kernel table of `isa` if this CPU / build supports it, else null.
const kernels::KernelTable* SupportedTable(kernels::Isa isa);
// n bf16 values drawn from nd (the same draws, in order, as a loop over F32ToBf16(nd(rng))).
std::vector<uint16_t> RandomBf16(int64_t n, std::mt19937& rng, std::normal_distribution<float>& nd);

}  // namespace dsvl2::testing
