#include "lm_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "loom/scheduler/engine.h"
#include "loom/scheduler/error.h"

namespace loom::lm {
namespace {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Reads values off a YAML tree, remembering which paths came from command-line overrides so
// that errors point at the file position or at the override.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void MarkOverride(const std::string& path, const std::string& text) { overrides_[path] = text; }

  std::string Where(const std::string& path, const YAML::Node& node) const {
    for (const auto& [prefix, text] : overrides_) {
      if (path == prefix || path.starts_with(prefix + ".") || path.starts_with(prefix + "[")) {
        return "(override '" + text + "')";
      }
    }
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return "(" + file_ + ")";
    return "(" + file_ + ":" + std::to_string(mark.line + 1) + ":" +
           std::to_string(mark.column + 1) + ")";
  }

  [[noreturn]] void Fail(const std::string& path, const YAML::Node& node,
                         const std::string& message) const {
    throw ConfigError(path + ": " + message + " " + Where(path, node));
  }

  // Rejects keys outside `allowed` and repeated keys; returns the map's (key, value) pairs.
  std::vector<std::pair<std::string, YAML::Node>> Entries(
      const YAML::Node& map, const std::string& path,
      const std::vector<std::string>& allowed) const {
    std::vector<std::pair<std::string, YAML::Node>> out;
    if (!map || map.IsNull()) return out;
    if (!map.IsMap()) Fail(path, map, "expected a map with keys " + Join(allowed));
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const std::string name = key.IsScalar() ? key.Scalar() : "?";
      const std::string where = path.empty() ? name : path + "." + name;
      if (!key.IsScalar()) Fail(where, key, "expected a plain key");
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        Fail(where, key, "unknown key '" + name + "'; expected one of " + Join(allowed));
      }
      if (!seen.insert(name).second) Fail(where, key, "duplicate key '" + name + "'");
      out.emplace_back(name, it->second);
    }
    return out;
  }

  std::string Scalar(const YAML::Node& node, const std::string& path,
                     const std::string& expected) const {
    if (!node.IsScalar()) Fail(path, node, "expected " + expected + " but got a " + Kind(node));
    return node.Scalar();
  }

  int64_t Int(const YAML::Node& node, const std::string& path, int64_t min,
              int64_t max = std::numeric_limits<int64_t>::max()) const {
    const std::string expected = "an integer >= " + std::to_string(min);
    const std::string text = Scalar(node, path, expected);
    int64_t value = 0;
    size_t used = 0;
    try {
      value = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) {
      Fail(path, node, "expected " + expected + " but got '" + text + "'");
    }
    if (value < min || value > max) {
      Fail(path, node,
           "expected an integer in [" + std::to_string(min) + ", " + std::to_string(max) +
               "] but got " + text);
    }
    return value;
  }

  double Double(const YAML::Node& node, const std::string& path, double min, double max,
                bool min_open = false) const {
    std::ostringstream range;
    range << (min_open ? "(" : "[") << min << ", " << max << "]";
    const std::string expected = "a number in " + range.str();
    const std::string text = Scalar(node, path, expected);
    double value = 0;
    size_t used = 0;
    try {
      value = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(value)) {
      Fail(path, node, "expected " + expected + " but got '" + text + "'");
    }
    if (value < min || value > max || (min_open && value == min)) {
      Fail(path, node, "expected " + expected + " but got " + text);
    }
    return value;
  }

  std::vector<YAML::Node> List(const YAML::Node& node, const std::string& path,
                               const std::string& expected) const {
    if (!node.IsSequence() || node.size() == 0) {
      Fail(path, node, "expected a non-empty list of " + expected);
    }
    return std::vector<YAML::Node>(node.begin(), node.end());
  }

  static std::string Kind(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "map";
      case YAML::NodeType::Sequence:
        return "list";
      case YAML::NodeType::Null:
        return "null value";
      default:
        return "scalar";
    }
  }

 private:
  std::string file_;
  std::map<std::string, std::string> overrides_;
};

YAML::Node LoadYaml(const std::string& text, const std::string& what) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("YAML syntax error: " + e.msg + " (" + what + ":" +
                      std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                      ")");
  }
}

// Sets root[a][b]... = value for one "a.b=value" override.
void ApplyOverride(YAML::Node& root, const std::string& text, Reader* reader) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("override '" + text + "': expected key.path=value");
  }
  const std::string path = text.substr(0, eq);
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw ConfigError("override '" + text + "': empty key in '" + path + "'");
    parts.push_back(part);
  }
  const YAML::Node value = LoadYaml(text.substr(eq + 1), "override '" + text + "'");
  if (!root || root.IsNull()) root.reset(YAML::Node(YAML::NodeType::Map));
  if (!root.IsMap()) throw ConfigError("override '" + text + "': the config is not a map");
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node child = node[parts[i]];
    if (!child.IsDefined() || child.IsNull()) {
      node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child.reset(node[parts[i]]);
    } else if (!child.IsMap()) {
      throw ConfigError("override '" + text + "': '" + parts[i] + "' is not a map");
    }
    node.reset(child);
  }
  node[parts.back()] = value;
  reader->MarkOverride(path, text);
}

LmConfig FromYaml(const YAML::Node& root, const Reader& r) {
  LmConfig c;
  for (const auto& [section, node] :
       r.Entries(root, "", {"corpus", "model", "train", "context", "group2ctx"})) {
    const std::string& s = section;
    if (s == "context") {
      c.context = r.Scalar(node, s, "a device such as cpu(0)");
    } else if (s == "group2ctx") {
      continue;  // ReadGroup2Ctx, once num_layers is known
    } else if (s == "corpus") {
      for (const auto& [key, v] :
           r.Entries(node, s, {"files", "val_every", "min_count", "buckets"})) {
        const std::string p = s + "." + key;
        if (key == "files") {
          c.files.clear();
          size_t i = 0;
          for (const YAML::Node& f : r.List(v, p, "file paths")) {
            c.files.push_back(r.Scalar(f, p + "[" + std::to_string(i++) + "]", "a file path"));
          }
        } else if (key == "val_every") {
          c.val_every = static_cast<int>(r.Int(v, p, 2, 1000000));
        } else if (key == "min_count") {
          c.min_count = static_cast<int>(r.Int(v, p, 1, 1000000));
        } else {
          c.buckets.clear();
          size_t i = 0;
          for (const YAML::Node& b : r.List(v, p, "increasing sentence lengths")) {
            const std::string bp = p + "[" + std::to_string(i++) + "]";
            const int64_t len = r.Int(b, bp, 2, 10000);
            if (!c.buckets.empty() && len <= c.buckets.back()) {
              r.Fail(bp, b,
                     "expected increasing bucket lengths but " + std::to_string(len) + " follows " +
                         std::to_string(c.buckets.back()));
            }
            c.buckets.push_back(len);
          }
        }
      }
    } else if (s == "model") {
      for (const auto& [key, v] : r.Entries(
               node, s, {"num_embed", "num_hidden", "num_layers", "dropout", "forget_bias"})) {
        const std::string p = s + "." + key;
        if (key == "num_embed") c.num_embed = r.Int(v, p, 1, 1 << 20);
        if (key == "num_hidden") c.num_hidden = r.Int(v, p, 1, 1 << 20);
        if (key == "num_layers") c.num_layers = static_cast<int>(r.Int(v, p, 1, 1000));
        if (key == "dropout") c.dropout = r.Double(v, p, 0, 1);
        if (key == "forget_bias") c.forget_bias = r.Double(v, p, -100, 100);
      }
    } else {
      for (const auto& [key, v] :
           r.Entries(node, s,
                     {"batch_size", "epochs", "lr", "momentum", "wd", "clip", "init_scale",
                      "min_improvement", "seed", "max_batches_per_epoch", "log_every"})) {
        const std::string p = s + "." + key;
        if (key == "batch_size") c.batch_size = r.Int(v, p, 1, 1 << 20);
        if (key == "epochs") c.epochs = static_cast<int>(r.Int(v, p, 1, 1000000));
        if (key == "lr") c.lr = r.Double(v, p, 0, 1e6, /*min_open=*/true);
        if (key == "momentum") c.momentum = r.Double(v, p, 0, 1);
        if (key == "wd") c.wd = r.Double(v, p, 0, 1e6);
        if (key == "clip") c.clip = r.Double(v, p, 0, 1e12);
        if (key == "init_scale") c.init_scale = r.Double(v, p, 0, 1e6);
        if (key == "min_improvement") c.min_improvement = r.Double(v, p, 0, 1e12);
        if (key == "seed") c.seed = static_cast<uint64_t>(r.Int(v, p, 0));
        if (key == "max_batches_per_epoch") c.max_batches_per_epoch = r.Int(v, p, 0);
        if (key == "log_every") c.log_every = r.Int(v, p, 0);
      }
    }
  }
  return c;
}

// group2ctx: read after num_layers is known, so that the valid group names are right.
void ReadGroup2Ctx(const YAML::Node& root, const Reader& r, LmConfig* c) {
  if (!root || !root.IsMap() || !root["group2ctx"]) return;
  const std::vector<std::string> groups = c->Groups();
  const YAML::Node node = root["group2ctx"];
  for (const auto& [group, v] : r.Entries(node, "group2ctx", groups)) {
    const std::string p = "group2ctx." + group;
    if (!v || v.IsNull()) r.Fail(p, v, "expected a device such as cpu(1) but got nothing");
    const std::string text = r.Scalar(v, p, "a device such as cpu(1)");
    try {
      Context::Parse(text);
    } catch (const Error&) {
      r.Fail(p, v, "expected a device such as cpu(1) or gpu(0) but got '" + text + "'");
    }
    c->group2ctx[group] = text;
  }
  if (c->group2ctx.empty()) return;
  std::vector<std::string> missing;
  for (const std::string& g : groups) {
    if (!c->group2ctx.contains(g)) missing.push_back(g);
  }
  if (!missing.empty()) {
    r.Fail("group2ctx", node,
           "no device for group" + std::string(missing.size() > 1 ? "s " : " ") + Join(missing) +
               " (a non-empty group2ctx must place every group: " + Join(groups) + ")");
  }
}

void CheckDevice(const std::string& path, const std::string& text, const YAML::Node& node,
                 const Reader& r) {
  Context ctx;
  try {
    ctx = Context::Parse(text);
  } catch (const Error&) {
    r.Fail(path, node, "expected a device such as cpu(0) or gpu(0) but got '" + text + "'");
  }
  if (ctx.type == DeviceType::kGPU) {
    const int gpus = Engine::Get().num_gpus();
    if (ctx.id >= gpus) {
      r.Fail(path, node,
             text + " is not available: this process sees " + std::to_string(gpus) + " GPU" +
                 (gpus == 1 ? "" : "s"));
    }
  } else if (ctx.type != DeviceType::kCPU) {
    r.Fail(path, node, "expected a cpu(i) or gpu(i) device but got '" + text + "'");
  }
}

LmConfig Parse(YAML::Node root, const std::string& file,
               const std::vector<std::string>& overrides) {
  Reader reader(file);
  for (const std::string& o : overrides) ApplyOverride(root, o, &reader);
  if (root && !root.IsNull() && !root.IsMap()) {
    reader.Fail("(top level)", root,
                "expected a map with keys corpus, model, train, context, "
                "group2ctx");
  }
  LmConfig c = FromYaml(root, reader);
  ReadGroup2Ctx(root, reader, &c);
  const YAML::Node none;
  CheckDevice("context", c.context,
              root && root.IsMap() && root["context"] ? root["context"] : none, reader);
  for (const auto& [group, text] : c.group2ctx) {
    CheckDevice("group2ctx." + group, text, root["group2ctx"][group], reader);
  }
  return c;
}

}  // namespace

std::vector<std::string> LmConfig::Groups() const {
  std::vector<std::string> groups = {"embed"};
  for (int i = 0; i < num_layers; ++i) groups.push_back("layer" + std::to_string(i));
  groups.push_back("decode");
  return groups;
}

ContextMap LmConfig::Group2Ctx() const {
  ContextMap out;
  for (const auto& [group, text] : group2ctx) out[group] = Context::Parse(text);
  return out;
}

Context LmConfig::BindContext() const { return Context::Parse(context); }

LmConfig ParseLmConfig(const std::string& yaml_text, const std::string& file_name,
                       const std::vector<std::string>& overrides) {
  return Parse(LoadYaml(yaml_text, file_name), file_name, overrides);
}

LmConfig LoadLmConfig(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open the config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseLmConfig(text.str(), path, overrides);
}

}  // namespace loom::lm
