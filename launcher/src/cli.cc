#include "loom/launcher/cli.h"

#include <functional>
#include <map>

#include "commands.h"
#include "loom/scheduler/error.h"

namespace loom {

namespace cli {
std::string OneLine(const std::exception& e) {
  std::string s = e.what();
  for (size_t pos = s.find("\n  "); pos != std::string::npos; pos = s.find("\n  ", pos)) {
    s.replace(pos, 3, "; ");
  }
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}
}  // namespace cli

namespace {

struct Command {
  const char* summary;
  std::function<int(const std::vector<std::string>&, std::ostream&, std::ostream&)> run;
};

const std::map<std::string, Command>& Commands() {
  static const std::map<std::string, Command> commands = {
      {"inspect",
       {"MODEL.json [--shape NAME=D1,D2,...]... [--dtype NAME=TYPE]... [--json] [--save OUT.json]"
        " [--train] [--group2ctx GROUP=DEVICE,...] [--ctx DEVICE]\n      arguments, outputs and"
        " auxiliary states with inferred shapes and dtypes;\n      --train: the executor's memory"
        " plan for inference and training;\n      --group2ctx: each node's device, the copies"
        " between devices and memory per device",
        cli::Inspect}},
      {"launch",
       {"-n N [--hosts FILE] [--dry-run] EXPERIMENT.yaml [key.path=value ...]\n      runs `loom"
        " train` on N processes through mpirun (prints the command line first)",
        cli::Launch}},
      {"ops",
       {"[NAME]\n      lists the operators (or one operator's inputs and parameters)", cli::Ops}},
      {"train",
       {"EXPERIMENT.yaml [key.path=value ...] [--print-config]\n      trains a YAML experiment"
        " (configs/fashion_mnist_mlp.yaml); --print-config prints the resolved config",
        cli::Train}},
      {"version",
       {"(also --version)\n      Loom's version, the libraries it was built with (CUDA, cuDNN, "
        "NCCL,"
        " MPI, oneDNN, ...) and the GPUs found",
        cli::Version}},
  };
  return commands;
}

void Usage(std::ostream& os) {
  os << "usage: loom <command> [options]\n\ncommands:\n";
  for (const auto& [name, command] : Commands()) {
    os << "  " << name << " " << command.summary << "\n";
  }
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    Usage(args.empty() ? err : out);
    return args.empty() ? cli::kExitFailure : 0;
  }
  auto it = Commands().find(args[0] == "--version" ? std::string("version") : args[0]);
  if (it == Commands().end()) {
    err << "loom: unknown command '" << args[0] << "' (try `loom --help`)\n";
    return cli::kExitFailure;
  }
  try {
    return it->second.run(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  } catch (const std::exception& e) {
    err << "loom " << args[0] << ": " << cli::OneLine(e) << "\n";
    return cli::kExitFailure;
  }
}

}  // namespace loom
