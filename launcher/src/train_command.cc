// `loom train EXPERIMENT.yaml [key.path=value ...] [--print-config]`: a thin layer over
// LoadExperiment and RunExperiment.
#include <iostream>

#include "commands.h"
#include "loom/train/config.h"
#include "loom/train/trainer.h"

namespace loom::cli {
namespace {

constexpr const char* kTrainUsage =
    "usage: loom train EXPERIMENT.yaml [key.path=value ...] [--print-config]\n"
    "  trains the experiment; overrides such as optimizer.lr=0.05 trainer.epochs=3 apply after\n"
    "  the file (and its includes); --print-config prints the resolved experiment and exits.\n"
    "  exit status: 0 done, 1 training failed, 2 bad experiment or usage, 130 interrupted\n";

}  // namespace

int Train(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string path;
  std::vector<std::string> overrides;
  bool print_config = false;
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      out << kTrainUsage;
      return train::kExitOk;
    }
    if (arg == "--print-config") {
      print_config = true;
    } else if (arg.starts_with("-")) {
      err << "loom train: unknown option '" << arg << "'\n" << kTrainUsage;
      return train::kExitConfigError;
    } else if (arg.find('=') != std::string::npos) {
      overrides.push_back(arg);
    } else if (path.empty()) {
      path = arg;
    } else {
      err << "loom train: expected one experiment file but got '" << path << "' and '" << arg
          << "' (overrides look like key.path=value)\n";
      return train::kExitConfigError;
    }
  }
  if (path.empty()) {
    err << "loom train: expected an experiment file\n" << kTrainUsage;
    return train::kExitConfigError;
  }
  proto::Experiment experiment;
  try {
    experiment = train::LoadExperiment(path, overrides);
  } catch (const std::exception& e) {
    err << "loom train: " << e.what() << "\n";
    return train::kExitConfigError;
  }
  if (print_config) {
    out << train::ExperimentToYaml(experiment);
    return train::kExitOk;
  }
  train::RunOptions options;
  options.overrides = overrides;
  return train::RunExperiment(experiment, out, err, options);
}

}  // namespace loom::cli
