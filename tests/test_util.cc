#include "test_util.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "base/half.h"

namespace dsvl2::testing {
namespace {
std::vector<std::string>& TempDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}
void Cleanup() {
  for (const auto& d : TempDirs()) {
    std::error_code ec;
    std::filesystem::remove_all(d, ec);
  }
}
}  // namespace

std::string DataDir() {
  const char* env = std::getenv("DSVL2_TEST_DATA_DIR");
  return env ? env : DSVL2_TEST_DATA_DIR;
}

std::string MakeTempDir() {
  static std::once_flag once;
  std::call_once(once, [] {
    TempDirs();  // construct before registering, so it outlives Cleanup
    std::atexit(Cleanup);
  });
  std::string tmpl = (std::filesystem::temp_directory_path() / "dsvl2_test_XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  if (!p) std::abort();
  TempDirs().push_back(tmpl);
  return tmpl;
}

Diff Compare(const float* a, const float* b, size_t n) {
  Diff d;
  for (size_t i = 0; i < n; ++i) {
    double e = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (!(e <= d.max_abs)) d.max_abs = std::isnan(e) ? INFINITY : e;
    d.max_ref = std::max(d.max_ref, std::fabs(static_cast<double>(b[i])));
  }
  return d;
}

const kernels::KernelTable* SupportedTable(kernels::Isa isa) {
  for (const kernels::KernelTable* t : kernels::AllSupported())
    if (t->isa == isa) return t;
  return nullptr;
}

std::vector<uint16_t> RandomBf16(int64_t n, std::mt19937& rng, std::normal_distribution<float>& nd) {
  std::vector<uint16_t> w(static_cast<size_t>(n));
  for (auto& v : w) v = F32ToBf16(nd(rng));
  return w;
}

}  // namespace dsvl2::testing
