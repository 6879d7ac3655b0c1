#include "tools/commands.h"

namespace dsvl2::tools {

int RunInspect(int argc, char** argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"inspect", "check a model directory and print its configuration", &RunInspect},
  };
  return kCommands;
}

}  // namespace dsvl2::tools
