// Helpers shared by tests: data paths, temp dirs, float comparison.
#pragma once

#include <string>
#include <vector>

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

}  // namespace dsvl2::testing
