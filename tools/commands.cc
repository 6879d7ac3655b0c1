#include "tools/commands.h"

namespace dsvl2::tools {

int RunInspect(int argc, char** argv);
int RunRun(int argc, char** argv);
int RunTokenize(int argc, char** argv);
int RunSynth(int, char**);
int RunQuantize(int, char**);
int RunServe(int argc, char** argv);
int RunBench(int argc, char** argv);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"run", "answer a prompt or conversation about images", &RunRun},
      {"serve", "OpenAI-compatible HTTP server with continuous batching and a web page", &RunServe},
      {"inspect", "check a model directory and print its configuration", &RunInspect},
      {"tokenize", "encode text to token ids or decode ids (JSON)", &RunTokenize},
      {"synth", "write a random model with real shapes", &RunSynth},
      {"quantize", "write a copy of a model with q8/q4 block-quantized linear weights", &RunQuantize},
      {"bench", "measure machine limits and the model's speed against them", &RunBench},
  };
  return kCommands;
}

}  // namespace dsvl2::tools
