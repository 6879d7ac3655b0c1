// A small command-line parser for `dsvl2` subcommands: --flag VALUE / --flag=VALUE, repeated
// flags, boolean switches; unknown flags and bad numbers are errors naming the flag.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace dsvl2::tools {

class Args {
 public:
  // `value_flags` take a value; `switches` do not.
  Args(std::vector<std::string> value_flags, std::vector<std::string> switches)
      : value_flags_(std::move(value_flags)), switches_(std::move(switches)) {}

  Status Parse(int argc, char** argv);  // argv[0] is the command name

  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& def = "") const;
  const std::vector<std::string>& All(const std::string& flag) const;
  StatusOr<int64_t> GetInt(const std::string& flag, int64_t def, int64_t min, int64_t max) const;
  StatusOr<double> GetDouble(const std::string& flag, double def, double min, double max) const;

 private:
  std::vector<std::string> value_flags_, switches_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace dsvl2::tools
