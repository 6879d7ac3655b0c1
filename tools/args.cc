#include "tools/args.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace dsvl2::tools {

Status Args::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) return Status::Error("unexpected argument '" + a + "'");
    std::string value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    const std::string flag = a.substr(2);
    if (std::find(switches_.begin(), switches_.end(), flag) != switches_.end()) {
      if (has_value) return Status::Error("--" + flag + " takes no value");
      values_[flag].push_back("1");
    } else if (std::find(value_flags_.begin(), value_flags_.end(), flag) != value_flags_.end()) {
      if (!has_value) {
        if (i + 1 >= argc) return Status::Error("--" + flag + " needs a value");
        value = argv[++i];
      }
      values_[flag].push_back(value);
    } else {
      return Status::Error("unknown option --" + flag);
    }
  }
  return Status::Ok();
}

std::string Args::Get(const std::string& flag, const std::string& def) const {
  auto it = values_.find(flag);
  return it == values_.end() ? def : it->second.back();
}

const std::vector<std::string>& Args::All(const std::string& flag) const {
  static const std::vector<std::string> kEmpty;
  auto it = values_.find(flag);
  return it == values_.end() ? kEmpty : it->second;
}

StatusOr<int64_t> Args::GetInt(const std::string& flag, int64_t def, int64_t min, int64_t max) const {
  if (!Has(flag)) return def;
  const std::string s = Get(flag);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
    return Status::Error("--" + flag + ": expected an integer in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], got '" + s + "'");
  return static_cast<int64_t>(v);
}

StatusOr<double> Args::GetDouble(const std::string& flag, double def, double min, double max) const {
  if (!Has(flag)) return def;
  const std::string s = Get(flag);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE || !(v >= min && v <= max))
    return Status::Error("--" + flag + ": expected a number in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], got '" + s + "'");
  return v;
}

}  // namespace dsvl2::tools
