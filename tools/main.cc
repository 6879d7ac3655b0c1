// The `dsvl2` command: subcommands dispatch to tools/cmd_*.cc.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/commands.h"

namespace {
void Usage() {
  std::fprintf(stderr,
               "usage: dsvl2 <command> [options]\n"
               "commands:\n");
  for (const auto& c : dsvl2::tools::Commands()) std::fprintf(stderr, "  %-10s %s\n", c.name, c.help);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    Usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  for (const auto& c : dsvl2::tools::Commands()) {
    if (cmd == c.name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "dsvl2: unknown command '%s'\n", cmd.c_str());
  Usage();
  return 2;
}
