#include "base/logging.h"

#include <atomic>

namespace dsvl2 {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogMessage(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::fprintf(stderr, "dsvl2 %s: %s\n", LevelName(level), message.c_str());
}

void CheckFailed(const char* file, int line, const char* expr, const std::string& msg) {
  std::fprintf(stderr, "dsvl2 internal error at %s:%d: check failed: %s %s\n", file, line, expr,
               msg.c_str());
  std::abort();
}

}  // namespace dsvl2
