// docs/configs.md against the schema: every key has a row with the schema's type and the default
// ExperimentToYaml prints, and no row names a key the schema lacks. Also: the shipped configs/
// load, pass the checks and round-trip.
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "config_test_util.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

const std::string kRepoRoot = std::string(LOOM_TEST_DATA_DIR) + "/../..";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TypeOf(const FD* f) {
  if (f->is_map()) {
    return "map " + std::string(f->message_type()->map_key()->type_name()) + " → " +
           f->message_type()->map_value()->type_name();
  }
  if (f->cpp_type() == FD::CPPTYPE_MESSAGE) return "section";
  std::string scalar = f->type_name();
  return f->is_repeated() ? "list of " + scalar : scalar;
}

// Key path -> printed value of ExperimentToYaml(Experiment()) ("" for sections).
std::map<std::string, std::string> PrintedDefaults() {
  std::map<std::string, std::string> out;
  std::istringstream in(ExperimentToYaml(proto::Experiment()));
  std::vector<std::string> stack;
  std::string line;
  static const std::regex kKey(R"(^(\s*)([a-z_0-9]+):\s?(.*)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, kKey)) continue;
    stack.resize(m[1].length() / 2);
    stack.push_back(m[2]);
    std::string path;
    for (const auto& s : stack) path += (path.empty() ? "" : ".") + s;
    out[path] = m[3];
  }
  return out;
}

// Every key of the schema; a message type met a second time (data.val) is not descended into.
void SchemaKeys(const pb::Descriptor* d, const std::string& path,
                std::set<const pb::Descriptor*>* seen,
                std::vector<std::pair<std::string, const FD*>>* out) {
  seen->insert(d);
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    const std::string p = path.empty() ? f->name() : path + "." + f->name();
    out->emplace_back(p, f);
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE && !f->is_map() && !seen->count(f->message_type())) {
      SchemaKeys(f->message_type(), p, seen, out);
    }
  }
}

TEST(ConfigDocs, EveryKeyIsDocumentedWithItsTypeAndDefault) {
  const std::string doc = ReadAll(kRepoRoot + "/docs/configs.md");
  ASSERT_FALSE(doc.empty());
  struct Row {
    std::string type, default_value;
  };
  std::map<std::string, Row> rows;
  static const std::regex kRow(R"(^\| `([a-z_0-9.]+)` \| ([^|]+) \| (`([^`]*)`)? *\|.*$)");
  std::istringstream in(doc);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kRow)) {
      std::string type = m[2];
      type.erase(type.find_last_not_of(' ') + 1);
      rows[m[1]] = {type, m[4]};
    }
  }
  std::vector<std::pair<std::string, const FD*>> keys;
  std::set<const pb::Descriptor*> seen;
  SchemaKeys(proto::Experiment::descriptor(), "", &seen, &keys);
  const auto defaults = PrintedDefaults();
  std::set<std::string> schema_paths;
  for (const auto& [path, field] : keys) {
    schema_paths.insert(path);
    auto it = rows.find(path);
    // A section may be documented by its own table ("### `model`") instead of a row.
    if (it == rows.end() && TypeOf(field) == "section" &&
        doc.find("\n### `" + path + "`") != std::string::npos) {
      continue;
    }
    const std::string expected_default = path == "include" ? "[]" : defaults.at(path);
    const std::string expected_row =
        "| `" + path + "` | " + TypeOf(field) + " | " +
        (expected_default.empty() ? "" : "`" + expected_default + "`") + " | ... |";
    if (it == rows.end()) {
      ADD_FAILURE() << "docs/configs.md has no row for " << path << "; add:\n" << expected_row;
      continue;
    }
    EXPECT_EQ(it->second.type, TypeOf(field)) << path << "; expected\n" << expected_row;
    EXPECT_EQ(it->second.default_value, expected_default) << path << "; expected\n" << expected_row;
  }
  for (const auto& [path, row] : rows) {
    EXPECT_TRUE(schema_paths.count(path))
        << "docs/configs.md documents " << path << ", which is not in the schema";
  }
}

TEST(ConfigFiles, ShippedConfigsLoadAndRoundTrip) {
  const std::filesystem::path dir = kRepoRoot + "/configs";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no configs/ directory";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    // The model-parallel LSTM program's own config (tests/examples/lm_config_test.cc).
    if (entry.path().filename() == "lstm_model_parallel.yaml") continue;
    SCOPED_TRACE(entry.path().string());
    proto::Experiment e = LoadExperiment(entry.path().string());
    proto::Experiment back = ParseExperiment(ExperimentToYaml(e), "config.yaml");
    EXPECT_TRUE(pb::util::MessageDifferencer::Equivalent(e, back));
    ++count;
  }
  EXPECT_GE(count, 1);
}

}  // namespace
}  // namespace loom::train
