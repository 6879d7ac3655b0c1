// Machine probes for `dsvl2 bench`: CPU model, core count, threads, kernel ISA, peak RSS.
#include <unistd.h>

#include <fstream>
#include <string>

#include "base/thread_pool.h"
#include "kernels/kernels.h"
#include "tools/bench.h"

namespace dsvl2::tools::bench {
namespace {
std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  const size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
}  // namespace

MachineInfo ProbeMachine() {
  MachineInfo m;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (Trim(line.substr(0, colon)) == "model name") {
      m.cpu_model = Trim(line.substr(colon + 1));
      break;
    }
  }
  if (m.cpu_model.empty()) m.cpu_model = "unknown";
  m.cores = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  m.threads = ThreadPool::Global().num_threads();
  m.isa = kernels::IsaName(kernels::Active().isa);
  return m;
}

double PeakRssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  }
  return 0.0;
}

}  // namespace dsvl2::tools::bench
