// Runs the `loom` command line in-process for tests and keeps what it printed.
//
//   loom::testing_cli::Result r = loom::testing_cli::Loom({"train", "x.yaml"});
//   EXPECT_EQ(r.status, 0) << r.err;
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "loom/launcher/cli.h"

namespace loom::testing_cli {

struct Result {
  int status;
  std::string out, err;
};

inline Result Loom(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int status = RunCli(args, out, err);
  return {status, out.str(), err.str()};
}

}  // namespace loom::testing_cli
