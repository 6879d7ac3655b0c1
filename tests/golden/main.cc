// Golden test entry point: `<test> [gtest flags] [--fixture DIR]...` checks the given fixture
// directories (any directory in the tests/data/fixtures format) instead of the bundled ones.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "golden/golden_case.h"

int main(int argc, char** argv) {
  // The fixture list must be known before InitGoogleTest instantiates the parameterised tests.
  std::vector<std::string> dirs;
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--fixture") && i + 1 < argc) {
      dirs.push_back(argv[++i]);
    } else if (!std::strncmp(argv[i], "--fixture=", 10)) {
      dirs.push_back(argv[i] + 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!dirs.empty()) dsvl2::testing::SetGoldenDirs(dirs);
  int n = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  ::testing::InitGoogleTest(&n, rest.data());
  if (n > 1) {
    std::fprintf(stderr, "unknown argument %s (use --fixture DIR)\n", rest[1]);
    return 2;
  }
  return RUN_ALL_TESTS();
}
