// Subcommands of the `loom` executable; each returns its exit status.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace loom::cli {

/// Exit status for usage errors and unusable input files.
inline constexpr int kExitFailure = 2;

/// One line: the error message with its context lines joined by "; ".
std::string OneLine(const std::exception& e);

int Launch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int Inspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int Ops(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int Train(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int Version(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace loom::cli
