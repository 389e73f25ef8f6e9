// Experiment configs: YAML files mapped onto the schema in
// launcher/proto/loom/proto/experiment.proto.
//
//   loom::proto::Experiment e = loom::train::LoadExperiment(
//       "configs/fashion_mnist_mlp.yaml", {"optimizer.lr=0.05", "trainer.metrics=[accuracy]"});
//   std::cout << loom::train::ExperimentToYaml(e);  // --print-config; saved as config.yaml
//
// The mapping is driven by the schema's descriptors, so a key added to the .proto file is accepted
// without code changes here. Every problem (YAML syntax, unknown key, wrong type, out-of-range
// number, duplicate key, include cycle, invalid value) throws loom::ConfigError whose message names
// the file, line and column (or the override text), the dotted key path and what was expected;
// unknown keys suggest the nearest valid one. docs/configs.md describes the keys, `include`
// merging and overrides. All functions are reentrant; they share no state.
#pragma once

#include <string>
#include <vector>

#include "loom/proto/experiment.pb.h"

namespace loom::train {

/// @brief Reads an experiment YAML file and returns the resolved, validated message.
///
/// Follows `include:` (a path or a list of paths, relative to the including file; included files
/// are merged first, later ones override earlier ones, the including file overrides them all; a
/// file reached twice is merged once, at its first include; a cycle is an error), then
/// applies the dotted overrides in order ("optimizer.lr=0.1", "trainer.metrics=[accuracy,mse]",
/// "trainer.group2ctx.embed=cpu(1)"), then validates the values.
/// @throws ConfigError naming file:line:column (or the override), the key path and the expectation.
proto::Experiment LoadExperiment(const std::string& path,
                                 const std::vector<std::string>& overrides = {});

/// @brief Parses one YAML document (no includes are followed; an `include` key is an error) and
/// validates it. `file_name_for_errors` is the name the error messages use.
/// @throws ConfigError as LoadExperiment.
proto::Experiment ParseExperiment(const std::string& yaml_text,
                                  const std::string& file_name_for_errors);

/// @brief Applies "a.b.c=value" overrides in order; the value is parsed as YAML, so scalars, flow
/// lists ("[1, 2]") and flow maps ("{a: b}") work. A map entry is addressed as "map.key=value".
/// Repeated fields are replaced, maps merged, messages merged field by field. Validates the result.
/// @throws ConfigError naming the override text, the key path and the expectation.
void ApplyOverrides(proto::Experiment* experiment, const std::vector<std::string>& overrides);

/// @brief The resolved experiment as YAML: every field, defaults included, in schema order; short
/// lists and maps in flow style; `~` for fields that are unset and have no default (model.symbol,
/// optimizer.rescale_grad, ...) and for an unset data.val. ParseExperiment(ExperimentToYaml(e),
/// ...) of a valid e has the same values as e (defaults become explicitly set;
/// unset-without-default fields stay unset) and prints the same text again.
std::string ExperimentToYaml(const proto::Experiment& experiment);

/// @brief Checks values against what the trainer accepts (optimizer.name in sgd|nag|..., positive
/// batch_size and epochs, exactly one of model.builtin and model.symbol, ...). Called by the
/// functions above; exposed for experiments built in C++.
/// @throws ConfigError naming the key path and the expectation.
void ValidateExperiment(const proto::Experiment& experiment);

}  // namespace loom::train
