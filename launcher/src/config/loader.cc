// LoadExperiment, ParseExperiment, ApplyOverrides: files, includes and overrides onto one message.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config_internal.h"
#include "loom/scheduler/error.h"
#include "loom/train/config.h"

namespace loom::train {
namespace {

using detail::Origin;
using detail::Origins;
using detail::ThrowConfigError;
namespace fs = std::filesystem;

std::string TopLevelKeys() {
  const auto* d = proto::Experiment::descriptor();
  std::string keys;
  for (int i = 0; i < d->field_count(); ++i) keys += (i ? ", " : "") + d->field(i)->name();
  return keys;
}

// The one YAML document of `text`, which must be a map.
YAML::Node ParseDocument(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = detail::LoadSingleDocument(text);
  } catch (const YAML::Exception& e) {
    ThrowConfigError(Origin::At(file, e.mark), "invalid YAML: " + e.msg);
  }
  if (root.IsNull()) {
    ThrowConfigError(Origin::At(file, YAML::Mark()),
                     "the experiment is empty; expected a map with the keys " + TopLevelKeys());
  }
  if (!root.IsMap()) {
    std::string got = root.IsSequence() ? "a list" : "'" + root.Scalar() + "'";
    ThrowConfigError(
        Origin::At(file, root.Mark()),
        "expected a map with the keys " + TopLevelKeys() + " at the top level but got " + got);
  }
  return root;
}

// Reads files onto one message, following `include` depth first; includes come before the
// including file's own keys, in list order.
class Loader {
 public:
  Loader(proto::Experiment* experiment, Origins* origins)
      : experiment_(experiment), origins_(origins) {}

  void LoadFile(const std::string& path, const Origin& included_from) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(path, ec);
    if (ec) canonical = fs::absolute(path, ec);
    for (size_t i = 0; i < stack_.size(); ++i) {
      if (stack_[i].second == canonical) {
        std::string chain;
        for (size_t j = i; j < stack_.size(); ++j) chain += stack_[j].first + " -> ";
        ThrowConfigError(included_from, "include cycle: " + chain + path);
      }
    }
    // A file included twice (a diamond) is merged once, where it is first included, so that a
    // second include does not undo what came in between.
    if (!done_.insert(canonical).second) return;
    std::string text = ReadText(path, included_from);
    YAML::Node root = ParseDocument(text, path);
    stack_.emplace_back(path, canonical);
    for (const auto& [include, mark] : Includes(root, path)) {
      fs::path p(include);
      std::string resolved = p.is_absolute()
                                 ? include
                                 : (fs::path(path).parent_path() / p).lexically_normal().string();
      LoadFile(resolved, Origin::At(path, mark));
    }
    detail::YamlReader(path, /*skip_include=*/true, origins_).ApplyMap(root, experiment_, "");
    stack_.pop_back();
  }

 private:
  static std::string ReadText(const std::string& path, const Origin& included_from) {
    std::ifstream in(path, std::ios::binary);
    if (!in || fs::is_directory(path)) {
      std::string reason = fs::is_directory(path) ? "it is a directory" : std::strerror(errno);
      ThrowConfigError(included_from, "cannot read experiment file '" + path + "': " + reason);
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The `include` entries of a file's top-level map: a path or a list of paths.
  static std::vector<std::pair<std::string, YAML::Mark>> Includes(const YAML::Node& root,
                                                                  const std::string& file) {
    std::vector<std::pair<std::string, YAML::Mark>> out;
    int found = 0;
    for (const auto& pair : root) {  // range-for: `it->first` would refer into a temporary
      const YAML::Node& key = pair.first;
      if (!key.IsScalar() || key.Scalar() != "include") continue;
      if (++found > 1) {
        ThrowConfigError(Origin::At(file, key.Mark()), "duplicate key 'include'");
      }
      const YAML::Node& value = pair.second;
      auto expect = [&](const YAML::Node& n) {
        if (!n.IsScalar()) {
          ThrowConfigError(Origin::At(file, n.IsNull() ? key.Mark() : n.Mark()),
                           "include: expected a file path or a list of file paths but got " +
                               std::string(n.IsNull()  ? "null"
                                           : n.IsMap() ? "a map"
                                                       : "a list"));
        }
        out.emplace_back(n.Scalar(), n.Mark());
      };
      if (value.IsSequence()) {
        for (const auto& item : value) expect(item);
      } else if (!value.IsNull()) {
        expect(value);
      }
    }
    return out;
  }

  proto::Experiment* experiment_;
  Origins* origins_;
  std::vector<std::pair<std::string, fs::path>> stack_;  // files being read: (as named, canonical)
  std::set<fs::path> done_;                              // files read (canonical)
};

}  // namespace

proto::Experiment LoadExperiment(const std::string& path,
                                 const std::vector<std::string>& overrides) {
  proto::Experiment experiment;
  Origins origins;
  Loader(&experiment, &origins).LoadFile(path, Origin{});
  for (const auto& text : overrides) detail::ApplyOverride(text, &experiment, &origins);
  detail::Validate(experiment, origins);
  return experiment;
}

proto::Experiment ParseExperiment(const std::string& yaml_text,
                                  const std::string& file_name_for_errors) {
  proto::Experiment experiment;
  Origins origins;
  YAML::Node root = ParseDocument(yaml_text, file_name_for_errors);
  detail::YamlReader(file_name_for_errors, /*skip_include=*/false, &origins)
      .ApplyMap(root, &experiment, "");
  detail::Validate(experiment, origins);
  return experiment;
}

void ApplyOverrides(proto::Experiment* experiment, const std::vector<std::string>& overrides) {
  Origins origins;
  for (const auto& text : overrides) detail::ApplyOverride(text, experiment, &origins);
  detail::Validate(*experiment, origins);
}

void ValidateExperiment(const proto::Experiment& experiment) {
  detail::Validate(experiment, Origins{});
}

}  // namespace loom::train
