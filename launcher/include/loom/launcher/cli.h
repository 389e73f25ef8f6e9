// The `loom` command line, callable in-process (the executable's main() is RunCli).
//
//   std::ostringstream out, err;
//   int status = loom::RunCli({"inspect", "model.json", "--shape", "data=1,200", "--json"},
//                             out, err);
//   // status 0: out holds one JSON object; status 2: err holds a one-line error
//
// Subcommands: `inspect` (arguments, outputs and auxiliary states of a symbol file with their
// inferred shapes and dtypes; --save rewrites it in MXNet 1.9's format) and `ops` (the operator
// registry). Exit status 0 on success, 2 on a usage error or an unusable file. Thread-safe as
// long as the streams are not shared.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace loom {

/// Runs `loom <args...>` (args excludes the program name); returns the exit status.
int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace loom
