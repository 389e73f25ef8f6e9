// Internals of the experiment config reader (src/config/): where each value came from, the
// descriptor-driven YAML -> protobuf reader, and the checks. Not thread-safe per object; no
// globals.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "loom/proto/experiment.pb.h"

namespace loom::train::detail {

/// Where a value came from: a position in a file (1-based; line 0 when only the file is known),
/// a command-line override, or nowhere (a default, or a message built in C++).
struct Origin {
  std::string file;
  int line = 0;
  int column = 0;
  std::string override_text;

  static Origin At(const std::string& file, const YAML::Mark& mark);
  static Origin Override(const std::string& text);
};

/// Dotted key path ("optimizer.lr", "trainer.metrics[1]", "trainer.group2ctx.embed") -> the origin
/// of its current value. Later sources overwrite earlier ones.
using Origins = std::map<std::string, Origin>;

/// Throws ConfigError: "<message> (file:line:col)", "override '<text>': <message>" or "<message>";
/// `context` (if any) becomes a context line.
[[noreturn]] void ThrowConfigError(const Origin& origin, const std::string& message,
                                   const std::string& context = {});

/// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string JoinPath(const std::string& path, const std::string& name);

/// Optimal-string-alignment edit distance, case-insensitive.
int EditDistance(const std::string& a, const std::string& b);

/// The closest of `candidates` to `word` if it is close enough to be a likely typo, else "".
std::string NearestWord(const std::string& word, const std::vector<std::string>& candidates);

/// Throws the unknown-key error for `key` under the message `parent` at `parent_path`: suggests
/// the nearest key at that level or, failing that, a field of that name elsewhere in `root`, and
/// lists the valid keys.
[[noreturn]] void ThrowUnknownKey(const Origin& origin, const google::protobuf::Descriptor* root,
                                  const google::protobuf::Descriptor* parent,
                                  const std::string& parent_path, const std::string& key);

/// Reads YAML nodes from one source (a file or one override) onto messages, by reflection.
/// Scalars replace, messages merge field by field, repeated fields are replaced, map entries are
/// merged by key, and null (`~`, `null` or nothing) clears a field or removes a map entry.
class YamlReader {
 public:
  /// Values from `file`; `include` at the top level is skipped (the loader follows it) when
  /// skip_include, otherwise rejected.
  YamlReader(std::string file, bool skip_include, Origins* origins);
  /// Values from one command-line override.
  static YamlReader ForOverride(std::string override_text, Origins* origins);

  /// Applies the map `node` to `message` (whose dotted path is `path`, "" at the top level).
  void ApplyMap(const YAML::Node& node, google::protobuf::Message* message,
                const std::string& path);
  /// Applies `value` to one field; `key_mark` locates nulls (whose own mark is unreliable).
  void ApplyField(const YAML::Node& value, const YAML::Mark& key_mark,
                  google::protobuf::Message* message,
                  const google::protobuf::FieldDescriptor* field, const std::string& path);
  /// Applies `value` to the entry `key` of the map field `field` (null removes the entry).
  void ApplyMapEntry(const std::string& key, const YAML::Node& value, const YAML::Mark& key_mark,
                     google::protobuf::Message* message,
                     const google::protobuf::FieldDescriptor* field, const std::string& path);

  Origin Where(const YAML::Mark& mark) const;

 private:
  YamlReader(std::string file, std::string override_text, bool skip_include, Origins* origins);
  void StoreScalar(const YAML::Node& value, const Origin& where, google::protobuf::Message* message,
                   const google::protobuf::FieldDescriptor* field, const std::string& path,
                   bool add);
  void Record(const std::string& path, const Origin& where, bool forget_below);

  std::string file_;
  std::string override_text_;
  bool skip_include_;
  Origins* origins_;
};

/// Parses `text` as at most one YAML document and returns its root (null when there is none).
/// Throws YAML::ParserException for syntax errors, for a second document, and for the input that
/// makes yaml-cpp 0.7's YAML::LoadAll loop forever (e.g. a leading ','), which it reports as an
/// unexpected character instead.
YAML::Node LoadSingleDocument(const std::string& text);

/// Applies one "a.b.c=value" override to `experiment`.
void ApplyOverride(const std::string& text, proto::Experiment* experiment, Origins* origins);

/// The semantic checks; errors name the origin of the offending value when it is known.
void Validate(const proto::Experiment& experiment, const Origins& origins);

}  // namespace loom::train::detail
