// YAML -> protobuf by reflection: every message, field and type of the schema is handled from its
// descriptor, so new keys in experiment.proto need no code here.
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "config/config_internal.h"
#include "loom/scheduler/error.h"

namespace loom::train::detail {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

// What a node holds, for "but got ..." (scalars quoted, long ones shortened).
std::string Got(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  std::string text = node.Scalar();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return "'" + text + "'";
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> FieldNames(const pb::Descriptor* d) {
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
  return names;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Every field path of the schema under `d` (map entries not descended into).
void CollectPaths(const pb::Descriptor* d, const std::string& path,
                  std::vector<std::pair<std::string, std::string>>* out, int depth = 0) {
  if (depth > 8) return;  // recursive schemas
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    std::string p = JoinPath(path, f->name());
    out->emplace_back(p, f->name());
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE && !f->is_map() && !f->is_repeated()) {
      CollectPaths(f->message_type(), p, out, depth + 1);
    }
  }
}

std::string TypeName(const FD* f) {
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_INT64:
      return "an integer";
    case FD::CPPTYPE_UINT32:
    case FD::CPPTYPE_UINT64:
      return "a non-negative integer";
    case FD::CPPTYPE_FLOAT:
    case FD::CPPTYPE_DOUBLE:
      return "a number";
    case FD::CPPTYPE_BOOL:
      return "true or false";
    case FD::CPPTYPE_STRING:
      return "a string";
    case FD::CPPTYPE_ENUM: {
      std::vector<std::string> names;
      for (int i = 0; i < f->enum_type()->value_count(); ++i) {
        names.push_back(f->enum_type()->value(i)->name());
      }
      return "one of " + JoinNames(names);
    }
    case FD::CPPTYPE_MESSAGE:
      return "a map of " + f->message_type()->name() + " keys (" +
             JoinNames(FieldNames(f->message_type())) + ")";
  }
  return "a value";
}

// "integers", "strings", ... for "expected a list of ...".
std::string PluralName(const FD* f) {
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
    case FD::CPPTYPE_INT64:
      return "integers";
    case FD::CPPTYPE_UINT32:
    case FD::CPPTYPE_UINT64:
      return "non-negative integers";
    case FD::CPPTYPE_FLOAT:
    case FD::CPPTYPE_DOUBLE:
      return "numbers";
    case FD::CPPTYPE_BOOL:
      return "booleans";
    case FD::CPPTYPE_STRING:
      return "strings";
    case FD::CPPTYPE_ENUM:
      return "names (" + TypeName(f) + ")";
    case FD::CPPTYPE_MESSAGE:
      return "maps";
  }
  return "values";
}

template <typename T>
bool ParseInteger(const std::string& text, T* value) {
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  return ec == std::errc() && end == s.data() + s.size();
}

// 0: not an integer at all; 1: ok; 2: an integer out of T's range.
template <typename T>
int ParseIntegerChecked(const std::string& text, T* value) {
  if (ParseInteger(text, value)) return 1;
  // An integer too large for T is still an integer: tell "out of range" from "not a number".
  std::string_view s = text;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
  bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c));
  });
  return digits ? 2 : 0;
}

// Unsigned: a negative integer is out of range, not "not a number".
template <typename T>
int NonNegative(const std::string& text, T* value) {
  if (!text.starts_with('-')) return ParseIntegerChecked(text, value);
  int64_t ignored = 0;
  return ParseIntegerChecked(text, &ignored) == 0 ? 0 : 2;
}

// YAML's .inf/.nan spellings and decimal numbers. 0: not a number; 1: ok; 2: out of range.
int ParseDouble(const std::string& text, double* value) {
  static const std::map<std::string, double> kSpecial = {
      {".inf", std::numeric_limits<double>::infinity()},
      {"+.inf", std::numeric_limits<double>::infinity()},
      {"-.inf", -std::numeric_limits<double>::infinity()},
      {".nan", std::numeric_limits<double>::quiet_NaN()}};
  auto special = kSpecial.find(Lower(text));
  if (special != kSpecial.end()) {
    *value = special->second;
    return 1;
  }
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s.front())) || s.front() == '-' ||
                     s.front() == '.')) {
    return 0;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  if (end != s.data() + s.size()) return 0;
  if (ec == std::errc::result_out_of_range) return 2;
  return ec == std::errc() ? 1 : 0;
}

bool ParseBool(const std::string& text, bool* value) {
  std::string s = Lower(text);
  if (s == "true" || s == "yes" || s == "on") {
    *value = true;
  } else if (s == "false" || s == "no" || s == "off") {
    *value = false;
  } else {
    return false;
  }
  return true;
}

// The key of a map entry as text, to find an existing entry with the same key.
std::string KeyText(const pb::Message& entry, const FD* key_field) {
  const pb::Reflection* r = entry.GetReflection();
  switch (key_field->cpp_type()) {
    case FD::CPPTYPE_STRING:
      return r->GetString(entry, key_field);
    case FD::CPPTYPE_INT32:
      return std::to_string(r->GetInt32(entry, key_field));
    case FD::CPPTYPE_INT64:
      return std::to_string(r->GetInt64(entry, key_field));
    case FD::CPPTYPE_UINT32:
      return std::to_string(r->GetUInt32(entry, key_field));
    case FD::CPPTYPE_UINT64:
      return std::to_string(r->GetUInt64(entry, key_field));
    case FD::CPPTYPE_BOOL:
      return r->GetBool(entry, key_field) ? "true" : "false";
    default:
      LOOM_INTERNAL_ASSERT(false, "map key type ", key_field->type_name());
  }
  return {};
}

// Records the root of each document: its mark and whether it is null.
class DocumentRoots : public YAML::EventHandler {
 public:
  struct Root {
    YAML::Mark mark;
    bool null = true;
  };
  std::vector<Root> roots;

  void OnDocumentStart(const YAML::Mark&) override {
    roots.push_back({});
    depth_ = 0;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark, false);
    ++depth_;
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark, false);
    ++depth_;
  }
  void OnMapEnd() override { --depth_; }

 private:
  void Node(const YAML::Mark& mark, bool null) {
    if (depth_ == 0 && !roots.empty()) roots.back() = {mark, null};
  }
  int depth_ = 0;
};

}  // namespace

YAML::Node LoadSingleDocument(const std::string& text) {
  // yaml-cpp 0.7 (fixed upstream in jbeder/yaml-cpp#1319) reports a token it cannot start a node
  // with (',') as a null document without consuming it, so LoadAll loops forever. Walk the
  // documents with the event parser and stop when one does not advance.
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentRoots handler;
  while (parser.HandleNextDocument(handler)) {
    const auto& roots = handler.roots;
    const size_t n = roots.size();
    if (n >= 2 && roots[n - 1].null && roots[n - 2].null &&
        roots[n - 1].mark.pos == roots[n - 2].mark.pos) {
      const YAML::Mark& at = roots[n - 1].mark;
      const char c = at.pos >= 0 && static_cast<size_t>(at.pos) < text.size() ? text[at.pos] : '?';
      throw YAML::ParserException(at, std::string("unexpected '") + c + "'");
    }
  }
  const auto& roots = handler.roots;
  if (roots.size() > 1) {
    throw YAML::ParserException(roots[1].mark, "expected one YAML document but got " +
                                                   std::to_string(roots.size()) +
                                                   " (separated by '---')");
  }
  return YAML::Load(text);
}

Origin Origin::At(const std::string& file, const YAML::Mark& mark) {
  Origin o;
  o.file = file;
  if (!mark.is_null()) {
    o.line = mark.line + 1;
    o.column = mark.column + 1;
  }
  return o;
}

Origin Origin::Override(const std::string& text) {
  Origin o;
  o.override_text = text;
  return o;
}

void ThrowConfigError(const Origin& origin, const std::string& message,
                      const std::string& context) {
  std::string text;
  if (!origin.override_text.empty()) {
    text = "override '" + origin.override_text + "': " + message;
  } else if (!origin.file.empty() && origin.line > 0) {
    text = message + " (" + origin.file + ":" + std::to_string(origin.line) + ":" +
           std::to_string(origin.column) + ")";
  } else if (!origin.file.empty()) {
    text = message + " (" + origin.file + ")";
  } else {
    text = message;
  }
  ConfigError error(text);
  if (!context.empty()) error.AddContext(context);
  throw error;
}

std::string JoinPath(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}

int EditDistance(const std::string& a_in, const std::string& b_in) {
  const std::string a = Lower(a_in), b = Lower(b_in);
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);  // transposition
      }
    }
  }
  return d[n][m];
}

std::string NearestWord(const std::string& word, const std::vector<std::string>& candidates) {
  // A typo changes a few characters: about one edit per three characters, at least two, but only
  // one in words of up to three characters (else "xy" would suggest "lr").
  const int size = static_cast<int>(word.size());
  const int limit = size <= 3 ? 1 : std::max(2, size / 3);
  std::string best;
  int best_distance = limit + 1;
  for (const auto& c : candidates) {
    int d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

void ThrowUnknownKey(const Origin& origin, const pb::Descriptor* root, const pb::Descriptor* parent,
                     const std::string& parent_path, const std::string& key) {
  const std::vector<std::string> names = FieldNames(parent);
  std::string suggestion;
  std::string near = NearestWord(key, names);
  if (!near.empty()) {
    suggestion = JoinPath(parent_path, near);
  } else {
    // A key put in the wrong section ("trainer.batch_size"): suggest where it lives.
    std::vector<std::pair<std::string, std::string>> paths;
    CollectPaths(root, "", &paths);
    std::vector<std::string> leaf_names;
    for (const auto& p : paths) leaf_names.push_back(p.second);
    std::string other = NearestWord(key, leaf_names);
    for (const auto& p : paths) {
      if (!other.empty() && p.second == other) {
        suggestion = p.first;
        break;
      }
    }
  }
  std::string message = "unknown key '" + JoinPath(parent_path, key) + "'";
  if (!suggestion.empty()) message += ", did you mean '" + suggestion + "'?";
  std::string where = parent_path.empty() ? "at the top level" : "in " + parent_path;
  ThrowConfigError(origin, message, "valid keys " + where + ": " + JoinNames(names));
}

YamlReader::YamlReader(std::string file, std::string override_text, bool skip_include,
                       Origins* origins)
    : file_(std::move(file)),
      override_text_(std::move(override_text)),
      skip_include_(skip_include),
      origins_(origins) {}

YamlReader::YamlReader(std::string file, bool skip_include, Origins* origins)
    : YamlReader(std::move(file), "", skip_include, origins) {}

YamlReader YamlReader::ForOverride(std::string override_text, Origins* origins) {
  return YamlReader("", std::move(override_text), false, origins);
}

Origin YamlReader::Where(const YAML::Mark& mark) const {
  return override_text_.empty() ? Origin::At(file_, mark) : Origin::Override(override_text_);
}

void YamlReader::Record(const std::string& path, const Origin& where, bool forget_below) {
  if (forget_below) {
    // Children of a replaced or cleared value no longer exist.
    for (auto it = origins_->lower_bound(path); it != origins_->end();) {
      const std::string& p = it->first;
      if (p.compare(0, path.size(), path) != 0) break;
      if (p.size() > path.size() && (p[path.size()] == '.' || p[path.size()] == '[')) {
        it = origins_->erase(it);
      } else {
        ++it;
      }
    }
  }
  (*origins_)[path] = where;
}

void YamlReader::ApplyMap(const YAML::Node& node, pb::Message* message, const std::string& path) {
  const pb::Descriptor* d = message->GetDescriptor();
  const bool top = path.empty() && d == proto::Experiment::descriptor();
  std::map<std::string, YAML::Mark> seen;
  // Range-for keeps each pair alive; `it->first` would refer into a temporary.
  for (const auto& pair : node) {
    const YAML::Node& key = pair.first;
    const YAML::Node& value = pair.second;
    if (!key.IsScalar()) {
      ThrowConfigError(Where(key.Mark()), (path.empty() ? "" : path + ": ") +
                                              "expected a key name but got " + Got(key));
    }
    const std::string name = key.Scalar();
    auto [first, inserted] = seen.emplace(name, key.Mark());
    if (!inserted) {
      ThrowConfigError(Where(key.Mark()), "duplicate key '" + JoinPath(path, name) +
                                              "', first given at line " +
                                              std::to_string(first->second.line + 1));
    }
    const FD* field = d->FindFieldByName(name);
    if (field == nullptr)
      ThrowUnknownKey(Where(key.Mark()), proto::Experiment::descriptor(), d, path, name);
    if (top && name == "include") {
      if (skip_include_) continue;
      bool empty = value.IsNull() || (value.IsSequence() && value.size() == 0);
      if (!empty) {
        ThrowConfigError(Where(key.Mark()),
                         "include: other files are included only when the experiment is loaded "
                         "from a file (LoadExperiment), not from text or overrides");
      }
      continue;
    }
    ApplyField(value, key.Mark(), message, field, JoinPath(path, name));
  }
}

void YamlReader::ApplyField(const YAML::Node& value, const YAML::Mark& key_mark,
                            pb::Message* message, const FD* field, const std::string& path) {
  const pb::Reflection* r = message->GetReflection();
  if (value.IsNull()) {
    r->ClearField(message, field);
    Record(path, Where(key_mark), true);
    return;
  }
  const Origin where = Where(value.Mark());
  if (field->is_map()) {
    if (!value.IsMap()) {
      ThrowConfigError(where,
                       path + ": expected a map (key: value, e.g. {a: b}) but got " + Got(value));
    }
    std::set<std::string> seen;
    for (const auto& pair : value) {
      if (!pair.first.IsScalar()) {
        ThrowConfigError(Where(pair.first.Mark()),
                         path + ": expected a key name but got " + Got(pair.first));
      }
      const std::string key = pair.first.Scalar();
      if (!seen.insert(key).second) {
        ThrowConfigError(Where(pair.first.Mark()), "duplicate key '" + JoinPath(path, key) + "'");
      }
      ApplyMapEntry(key, pair.second, pair.first.Mark(), message, field, path);
    }
    Record(path, where, false);
    return;
  }
  if (field->is_repeated()) {
    if (!value.IsSequence()) {
      ThrowConfigError(where, path + ": expected a list (e.g. [a, b]) of " + PluralName(field) +
                                  " but got " + Got(value));
    }
    r->ClearField(message, field);
    Record(path, where, true);
    for (size_t i = 0; i < value.size(); ++i) {
      const YAML::Node& item = value[i];
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      const Origin item_where = Where(item.Mark());
      if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
        if (!item.IsMap()) {
          ThrowConfigError(item_where,
                           item_path + ": expected " + TypeName(field) + " but got " + Got(item));
        }
        ApplyMap(item, r->AddMessage(message, field), item_path);
      } else {
        StoreScalar(item, item_where, message, field, item_path, true);
      }
      Record(item_path, item_where, false);
    }
    return;
  }
  if (field->cpp_type() == FD::CPPTYPE_MESSAGE) {
    if (!value.IsMap()) {
      ThrowConfigError(where, path + ": expected " + TypeName(field) + " but got " + Got(value));
    }
    ApplyMap(value, r->MutableMessage(message, field), path);
    Record(path, where, false);
    return;
  }
  StoreScalar(value, where, message, field, path, false);
  Record(path, where, false);
}

void YamlReader::ApplyMapEntry(const std::string& key, const YAML::Node& value,
                               const YAML::Mark& key_mark, pb::Message* message, const FD* field,
                               const std::string& path) {
  const pb::Reflection* r = message->GetReflection();
  const pb::Descriptor* entry_type = field->message_type();
  const FD* key_field = entry_type->map_key();
  const FD* value_field = entry_type->map_value();
  const std::string entry_path = JoinPath(path, key);

  // The key parsed into a scratch entry, so that "1" and "+1" name the same integer key.
  std::unique_ptr<pb::Message> probe(r->GetMessageFactory()->GetPrototype(entry_type)->New());
  StoreScalar(YAML::Node(key), Where(key_mark), probe.get(), key_field, entry_path, false);
  const std::string canonical_key = KeyText(*probe, key_field);
  const int size = r->FieldSize(*message, field);
  int index = -1;
  for (int i = 0; i < size && index < 0; ++i) {
    if (KeyText(r->GetRepeatedMessage(*message, field, i), key_field) == canonical_key) index = i;
  }
  if (value.IsNull()) {
    if (index >= 0) {
      r->SwapElements(message, field, index, size - 1);
      r->RemoveLast(message, field);
    }
    Record(entry_path, Where(key_mark), true);
    return;
  }
  pb::Message* entry = nullptr;
  if (index >= 0) {
    entry = r->MutableRepeatedMessage(message, field, index);
  } else {
    entry = r->AddMessage(message, field);
    entry->CopyFrom(*probe);
  }
  const Origin where = Where(value.Mark());
  if (value_field->cpp_type() == FD::CPPTYPE_MESSAGE) {
    if (!value.IsMap()) {
      ThrowConfigError(
          where, entry_path + ": expected " + TypeName(value_field) + " but got " + Got(value));
    }
    ApplyMap(value, entry->GetReflection()->MutableMessage(entry, value_field), entry_path);
  } else {
    StoreScalar(value, where, entry, value_field, entry_path, false);
  }
  Record(entry_path, where, false);
}

void YamlReader::StoreScalar(const YAML::Node& value, const Origin& where, pb::Message* message,
                             const FD* field, const std::string& path, bool add) {
  const pb::Reflection* r = message->GetReflection();
  if (!value.IsScalar()) {
    ThrowConfigError(where, path + ": expected " + TypeName(field) + " but got " + Got(value));
  }
  const std::string& text = value.Scalar();
  auto fail = [&](const std::string& expected) {
    ThrowConfigError(where, path + ": expected " + expected + " but got " + Got(value));
  };
  auto range = [](auto lo, auto hi) {
    return "an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
  };
  switch (field->cpp_type()) {
    case FD::CPPTYPE_INT32: {
      int32_t v = 0;
      int ok = ParseIntegerChecked(text, &v);
      if (ok == 0) fail("an integer");
      if (ok == 2) fail(range(INT32_MIN, INT32_MAX));
      add ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      break;
    }
    case FD::CPPTYPE_INT64: {
      int64_t v = 0;
      int ok = ParseIntegerChecked(text, &v);
      if (ok == 0) fail("an integer");
      if (ok == 2) fail(range(INT64_MIN, INT64_MAX));
      add ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      break;
    }
    case FD::CPPTYPE_UINT32: {
      uint32_t v = 0;
      int ok = NonNegative(text, &v);
      if (ok == 0) fail("a non-negative integer");
      if (ok == 2) fail(range(0u, UINT32_MAX));
      add ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      break;
    }
    case FD::CPPTYPE_UINT64: {
      uint64_t v = 0;
      int ok = NonNegative(text, &v);
      if (ok == 0) fail("a non-negative integer");
      if (ok == 2) fail(range(0ull, UINT64_MAX));
      add ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      break;
    }
    case FD::CPPTYPE_FLOAT:
    case FD::CPPTYPE_DOUBLE: {
      double v = 0;
      int ok = ParseDouble(text, &v);
      if (ok == 0) fail("a number");
      const bool is_float = field->cpp_type() == FD::CPPTYPE_FLOAT;
      // Doubles from FLT_MAX up to half an ulp above it round to FLT_MAX; beyond, to infinity.
      const double float_limit =
          static_cast<double>(std::numeric_limits<float>::max()) + std::ldexp(1.0, 103);
      if (ok == 2 || (is_float && std::isfinite(v) && std::fabs(v) >= float_limit)) {
        fail(is_float ? "a number within a float's range (about +-3.4e38)"
                      : "a number within a double's range (about +-1.8e308)");
      }
      if (is_float) {
        add ? r->AddFloat(message, field, static_cast<float>(v))
            : r->SetFloat(message, field, static_cast<float>(v));
      } else {
        add ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      }
      break;
    }
    case FD::CPPTYPE_BOOL: {
      bool v = false;
      if (!ParseBool(text, &v)) fail("true or false");
      add ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      break;
    }
    case FD::CPPTYPE_STRING:
      add ? r->AddString(message, field, text) : r->SetString(message, field, text);
      break;
    case FD::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* v = field->enum_type()->FindValueByName(text);
      if (v == nullptr) fail(TypeName(field));
      add ? r->AddEnum(message, field, v) : r->SetEnum(message, field, v);
      break;
    }
    case FD::CPPTYPE_MESSAGE:
      LOOM_INTERNAL_ASSERT(false, "StoreScalar on message field ", path);
  }
}

void ApplyOverride(const std::string& text, proto::Experiment* experiment, Origins* origins) {
  const Origin origin = Origin::Override(text);
  const size_t eq = text.find('=');
  auto trim = [](std::string s) {
    const char* ws = " \t";
    s.erase(0, s.find_first_not_of(ws));
    s.erase(s.find_last_not_of(ws) + 1);
    return s;
  };
  const std::string key = eq == std::string::npos ? "" : trim(text.substr(0, eq));
  if (key.empty()) {
    ThrowConfigError(origin, "expected key.path=value (e.g. optimizer.lr=0.1)");
  }
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts) {
    if (p.empty()) {
      ThrowConfigError(origin, "expected key.path=value with a name between each pair of dots");
    }
  }
  YAML::Node value;
  try {
    value = LoadSingleDocument(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    ThrowConfigError(origin, "the value is not valid YAML: " + e.msg);
  }

  YamlReader reader = YamlReader::ForOverride(text, origins);
  pb::Message* message = experiment;
  std::string path;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FD* field = message->GetDescriptor()->FindFieldByName(parts[i]);
    if (field == nullptr) {
      ThrowUnknownKey(origin, proto::Experiment::descriptor(), message->GetDescriptor(), path,
                      parts[i]);
    }
    const std::string field_path = JoinPath(path, parts[i]);
    if (message == experiment && parts[i] == "include") {
      ThrowConfigError(origin, "include: other files can be included only from a file");
    }
    if (i + 1 == parts.size()) {
      reader.ApplyField(value, YAML::Mark(), message, field, field_path);
      return;
    }
    if (field->is_map()) {
      std::string map_key = parts[i + 1];
      for (size_t j = i + 2; j < parts.size(); ++j) map_key += "." + parts[j];
      reader.ApplyMapEntry(map_key, value, YAML::Mark(), message, field, field_path);
      return;
    }
    if (field->is_repeated()) {
      ThrowConfigError(origin,
                       field_path + " is a list: set it whole, e.g. " + field_path + "=[a,b]");
    }
    if (field->cpp_type() != FD::CPPTYPE_MESSAGE) {
      ThrowConfigError(
          origin, field_path + " is " + TypeName(field) + " and has no key '" + parts[i + 1] + "'");
    }
    message = message->GetReflection()->MutableMessage(message, field);
    path = field_path;
  }
}

}  // namespace loom::train::detail
