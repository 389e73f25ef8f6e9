// The `loom` command line, callable in-process (the executable's main() is RunCli).
//
//   std::ostringstream out, err;
//   int status = loom::RunCli({"inspect", "model.json", "--shape", "data=1,200", "--json"},
//                             out, err);
//   // status 0: out holds one JSON object; status 2: err holds a one-line error
//
// Subcommands: `inspect` (arguments, outputs and auxiliary states of a symbol file with their
// inferred shapes and dtypes; --save rewrites it in MXNet 1.9's format), `ops` (the operator
// registry) and `train` (a YAML experiment, loom/train/trainer.h). Exit status 0 on success, 2 on
// a usage error or an unusable file; `train` also returns 1 when training fails and 130 when
// interrupted. Thread-safe as long as the streams are not shared (`train` is one per process).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace loom {

/// Runs `loom <args...>` (args excludes the program name); returns the exit status.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace loom
