// The `loom` executable.
#include <iostream>

#include "loom/launcher/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return loom::RunCli(args, std::cout, std::cerr);
}
