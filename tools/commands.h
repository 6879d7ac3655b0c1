// Registry of `dsvl2` subcommands.
#pragma once

#include <vector>

namespace dsvl2::tools {

struct Command {
  const char* name;
  const char* help;
  int (*run)(int argc, char** argv);  // argv[0] is the command name
};

const std::vector<Command>& Commands();

}  // namespace dsvl2::tools
