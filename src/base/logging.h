// Minimal leveled logging to stderr. Internal invariants use DSVL2_CHECK (programming errors
// only, never user input).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace dsvl2 {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void LogMessage(LogLevel level, const std::string& message);

inline void LogInfo(const std::string& m) { LogMessage(LogLevel::kInfo, m); }
inline void LogWarning(const std::string& m) { LogMessage(LogLevel::kWarning, m); }
inline void LogDebug(const std::string& m) { LogMessage(LogLevel::kDebug, m); }

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const std::string& msg);

}  // namespace dsvl2

#define DSVL2_CHECK(cond)                                                  \
  do {                                                                     \
    if (!(cond)) ::dsvl2::CheckFailed(__FILE__, __LINE__, #cond, "");     \
  } while (0)

#define DSVL2_CHECK_MSG(cond, msg)                                         \
  do {                                                                     \
    if (!(cond)) ::dsvl2::CheckFailed(__FILE__, __LINE__, #cond, (msg));  \
  } while (0)
