// Fuzzes the experiment config reader: any input must either parse or throw loom::Error (never
// crash, leak, hang or throw anything else), whatever parses must print as YAML that parses back
// and prints the same, and the input's first line, used as a command-line override, must apply
// or throw loom::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "loom/scheduler/error.h"
#include "loom/train/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  loom::proto::Experiment base;
  base.mutable_model()->set_builtin("mlp");
  try {
    loom::train::ApplyOverrides(&base, {text.substr(0, text.find('\n'))});
  } catch (const loom::Error&) {
  }

  loom::proto::Experiment experiment;
  try {
    experiment = loom::train::ParseExperiment(text, "fuzz.yaml");
  } catch (const loom::Error&) {
    return 0;
  }
  const std::string yaml = loom::train::ExperimentToYaml(experiment);
  loom::proto::Experiment back;
  try {
    back = loom::train::ParseExperiment(yaml, "resolved.yaml");
  } catch (const loom::Error&) {
    __builtin_trap();  // the printed experiment must read back
  }
  if (loom::train::ExperimentToYaml(back) != yaml) __builtin_trap();
  return 0;
}
