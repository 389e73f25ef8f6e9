// Symbol files: MXNet 1.9's writer (byte for byte) and a reader for every era, with MXNet's
// upgrades of old files (LoadLegacyJSON in MXNet's src/nnvm/legacy_json_util.cc).
#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "hidden_keys.h"
#include "loom/core/json.h"
#include "loom/core/operator.h"
#include "loom/core/symbol.h"

namespace loom {

namespace {

constexpr int64_t kMXNetVersion = 10901;  // 1.9.1, written into every file

void WriteEntry(JsonWriter& w, uint32_t node, uint32_t index, uint32_t version) {
  w.BeginArray(false);
  w.Item();
  w.Int(node);
  w.Item();
  w.Int(index);
  w.Item();
  w.Int(version);
  w.EndArray();
}

// dmlc writes an array of plain values on one line when it has at most 10 of them.
void WriteIntArray(JsonWriter& w, const std::vector<uint32_t>& values) {
  w.BeginArray(values.size() > 10);
  for (uint32_t v : values) {
    w.Item();
    w.Int(v);
  }
  w.EndArray();
}

}  // namespace

std::string Symbol::ToJSON() const {
  std::unordered_map<const Node*, uint32_t> ids;
  std::vector<NodePtr> nodes;
  PostOrderDFS(outputs_, [&](const NodePtr& n) {
    ids.emplace(n.get(), static_cast<uint32_t>(nodes.size()));
    nodes.push_back(n);
  });
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("nodes");
  w.BeginArray();
  std::vector<uint32_t> arg_nodes, row_ptr{0};
  for (uint32_t nid = 0; nid < nodes.size(); ++nid) {
    const Node& n = *nodes[nid];
    if (n.is_variable()) arg_nodes.push_back(nid);
    row_ptr.push_back(row_ptr.back() + n.num_outputs());
    w.Item();
    w.BeginObject();
    w.Key("op");
    w.String(n.is_variable() ? "null" : n.attrs.op->name());
    w.Key("name");
    w.String(n.attrs.name);
    if (!n.attrs.dict.empty()) {
      w.Key("attrs");
      w.BeginObject(n.attrs.dict.size() > 1);
      for (const auto& [k, v] : n.attrs.dict) {
        w.Key(k);
        w.String(v);
      }
      w.EndObject();
    }
    w.Key("inputs");
    w.BeginArray(n.inputs.size() > 10);
    for (const NodeEntry& e : n.inputs) {
      w.Item();
      WriteEntry(w, ids.at(e.node.get()), e.index, e.version);
    }
    w.EndArray();
    if (!n.control_deps.empty()) {
      std::vector<uint32_t> deps;
      for (const NodePtr& d : n.control_deps) deps.push_back(ids.at(d.get()));
      w.Key("control_deps");
      WriteIntArray(w, deps);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("arg_nodes");
  WriteIntArray(w, arg_nodes);
  w.Key("node_row_ptr");
  WriteIntArray(w, row_ptr);
  w.Key("heads");
  w.BeginArray(outputs_.size() > 10);
  for (const NodeEntry& e : outputs_) {
    w.Item();
    WriteEntry(w, ids.at(e.node.get()), e.index, e.version);
  }
  w.EndArray();
  w.Key("attrs");
  w.BeginObject(false);
  w.Key("mxnet_version");
  w.BeginArray(false);
  w.Item();
  w.String("int");
  w.Item();
  w.Int(kMXNetVersion);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return out;
}

namespace {

// Reading: the file's structure is checked completely before any operator code runs, so a
// malformed file fails with its position and never reaches a half-built graph.
class Loader {
 public:
  Loader(std::string_view text, std::string_view source) : source_(source) {
    root_ = ParseJson(text, source);
  }

  Symbol Load() {
    const JsonValue& root = root_;
    CheckKeys(root, {"nodes", "arg_nodes", "node_row_ptr", "heads", "attrs"}, "the top level");
    const auto& jnodes = root.Get("nodes").items();
    int64_t version = 800;  // files without mxnet_version come from MXNet 0.8
    if (const JsonValue* attrs = root.Find("attrs")) {
      for (const auto& [key, value] : attrs->members()) {
        const auto& pair = value.items();
        LOOM_CHECK(pair.size() == 2, value.where(), ": expected graph attribute \"", key,
                   "\" as [type, value] but got ", pair.size(), " items");
        if (key == "mxnet_version") {
          LOOM_CHECK(pair[0].AsString() == "int", pair[0].where(),
                     ": expected mxnet_version of type \"int\" but got \"", pair[0].AsString(),
                     "\"");
          version = pair[1].AsInt();
        } else if (key == "is_np_shape") {
          LOOM_CHECK_TYPED(NotSupportedError, pair[1].AsInt() == 0, value.where(),
                           ": this file was saved with NumPy shape semantics (is_np_shape=1), "
                           "which Loom does not support");
        } else {
          throw Error(value.where() + ": unknown graph attribute \"" + key +
                      "\" (expected mxnet_version or is_np_shape)");
        }
      }
    }
    for (size_t i = 0; i < jnodes.size(); ++i) nodes_.push_back(ReadNode(jnodes[i], i));
    for (const JsonValue& id : root.Get("arg_nodes").items()) {
      int64_t nid = id.AsInt();
      LOOM_CHECK(nid >= 0 && nid < static_cast<int64_t>(nodes_.size()), id.where(),
                 ": arg_nodes lists node ", nid, " but the file has ", nodes_.size(), " nodes");
      LOOM_CHECK(nodes_[nid]->is_variable(), id.where(), ": arg_nodes lists node ", nid, " ('",
                 nodes_[nid]->attrs.name, "'), which is an operator, not a variable");
    }
    std::vector<NodeEntry> heads;
    for (const JsonValue& e : root.Get("heads").items()) {
      heads.push_back(ReadEntry(e, nodes_.size(), "heads"));
    }
    LOOM_CHECK(!heads.empty(), root.Get("heads").where(), ": expected at least one head");

    Upgrade(heads, version);
    return Symbol(std::move(heads));
  }

 private:
  void CheckKeys(const JsonValue& obj, std::initializer_list<std::string_view> allowed,
                 std::string_view what) const {
    for (const auto& [key, value] : obj.members()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        throw Error(value.where() + ": unknown key \"" + key + "\" in " + std::string(what) +
                    " (expected " + list + ")");
      }
    }
  }

  NodeEntry ReadEntry(const JsonValue& v, size_t limit, std::string_view what) const {
    const auto& items = v.items();
    LOOM_CHECK(items.size() == 2 || items.size() == 3, v.where(), ": expected an entry [node, "
               "index] or [node, index, version] in ", what, " but got ", items.size(), " items");
    int64_t nid = items[0].AsInt(), index = items[1].AsInt();
    int64_t version = items.size() == 3 ? items[2].AsInt() : 0;
    LOOM_CHECK(nid >= 0 && static_cast<size_t>(nid) < limit, items[0].where(), ": ", what,
               " refers to node ", nid, " but only nodes 0 to ", static_cast<int64_t>(limit) - 1,
               " come before it");
    LOOM_CHECK(index >= 0 && index < (1 << 20) && version >= 0 && version <= UINT32_MAX,
               items[1].where(), ": expected a non-negative output index and version but got [",
               nid, ", ", index, ", ", version, "]");
    return NodeEntry{nodes_[nid], static_cast<uint32_t>(index), static_cast<uint32_t>(version)};
  }

  NodePtr ReadNode(const JsonValue& v, size_t nid) {
    CheckKeys(v, {"op", "name", "inputs", "attrs", "attr", "param", "control_deps", "subgraphs",
                  "backward_source_id"},
              "node " + std::to_string(nid));
    auto node = std::make_shared<Node>();
    node->attrs.name = v.Get("name").AsString();
    const std::string& op = v.Get("op").AsString();
    std::string what = "node " + std::to_string(nid) + " ('" + node->attrs.name + "')";
    if (op != "null") {
      node->attrs.op = OpRegistry::Global().Find(op);
      if (!node->attrs.op) {
        try {
          OpRegistry::Global().Get(op);
        } catch (Error& e) {
          throw Error(v.Get("op").where() + ": " + what + ": " + e.message());
        }
      }
    }
    for (const char* key : {"param", "attr", "attrs"}) {
      if (const JsonValue* dict = v.Find(key)) {
        for (const auto& [k, value] : dict->members()) node->attrs.dict[k] = value.AsString();
      }
    }
    if (const JsonValue* sub = v.Find("subgraphs")) {
      LOOM_CHECK_TYPED(NotSupportedError, sub->items().empty(), sub->where(), ": ", what,
                       " has subgraphs (control-flow operators), which Loom does not support");
    }
    if (const JsonValue* b = v.Find("backward_source_id")) b->AsInt();
    for (const JsonValue& e : v.Get("inputs").items()) {
      node->inputs.push_back(ReadEntry(e, nid, what + "'s inputs"));
    }
    if (node->is_variable()) {
      LOOM_CHECK(node->inputs.empty(), v.Get("inputs").where(), ": ", what,
                 " is a variable but has inputs");
    }
    if (const JsonValue* deps = v.Find("control_deps")) {
      for (const JsonValue& d : deps->items()) {
        int64_t id = d.AsInt();
        LOOM_CHECK(id >= 0 && static_cast<size_t>(id) < nid, d.where(), ": ", what,
                   " has a control dependency on node ", id, ", which does not come before it");
        node->control_deps.push_back(nodes_[id]);
      }
    }
    sources_.emplace(node.get(), v.where());
    return node;
  }

  std::string Describe(const Node& n) const {
    auto it = sources_.find(&n);
    std::string where = it == sources_.end() ? source_ : it->second;
    return where + ": node '" + n.attrs.name + "' (" +
           (n.is_variable() ? std::string("variable") : n.attrs.op->name()) + ")";
  }

  void Parse(Node* n) const {
    if (n->is_variable()) return;
    try {
      n->attrs.op->ParseParams(&n->attrs);
    } catch (Error& e) {
      throw Error(Describe(*n) + ": " + e.message());
    }
  }

  // MXNet's UpgradeJSON_FixParsing: keys starting or ending with a hidden key (ctx_group,
  // lr_mult, ...) are taken out before parsing; a bare hidden key comes back as __key__, and
  // `<input>_<hidden>` on an operator moves to that input variable as __hidden__.
  void FixParsing(Node* n) const {
    std::vector<std::pair<std::string, std::string>> hidden;
    for (auto it = n->attrs.dict.begin(); it != n->attrs.dict.end();) {
      bool take = false;
      for (std::string_view key : detail::kHiddenKeys) {
        size_t pos = it->first.rfind(key);
        if (pos == 0 || (pos != std::string::npos && pos == it->first.size() - key.size())) {
          take = true;
          break;
        }
      }
      if (take) {
        hidden.emplace_back(it->first, it->second);
        it = n->attrs.dict.erase(it);
      } else {
        ++it;
      }
    }
    Parse(n);
    for (const auto& [k, value] : hidden) {
      bool moved = false;
      for (std::string_view key : detail::kHiddenKeys) {
        size_t pos = k.rfind(key);
        if (pos == 0 && k.size() == key.size()) {
          n->attrs.dict["__" + std::string(key) + "__"] = value;
          moved = true;
          break;
        }
        if (pos != std::string::npos && pos > 1 && pos == k.size() - key.size()) {
          if (n->is_variable()) break;
          std::vector<std::string> names = n->attrs.op->ListInputNames(n->attrs);
          auto arg = std::find(names.begin(), names.end(), k.substr(0, pos - 1));
          if (arg != names.end()) {
            size_t idx = arg - names.begin();
            if (idx < n->inputs.size() && n->inputs[idx].node->is_variable()) {
              n->inputs[idx].node->attrs.dict["__" + std::string(key) + "__"] = value;
              moved = true;
            }
          }
          break;
        }
      }
      if (!moved) n->attrs.dict[k] = value;
    }
  }

  void Upgrade(const std::vector<NodeEntry>& heads, int64_t version) const {
    std::vector<NodePtr> order;
    PostOrderDFS(heads, [&](const NodePtr& n) { order.push_back(n); });
    if (version < kMXNetVersion) {
      for (const NodePtr& n : order) FixParsing(n.get());
    }
    for (const NodePtr& n : order) Parse(n.get());
    if (version < 900) {
      // Auxiliary states were not saved before 0.9: add them as MXNet does.
      for (const NodePtr& n : order) {
        if (n->is_variable()) continue;
        std::vector<std::string> names = n->attrs.op->ListInputNames(n->attrs);
        for (size_t i = n->inputs.size(); i < names.size(); ++i) {
          n->inputs.push_back(NodeEntry{
              Node::CreateVariable(n->attrs.name + "_" + names[i], n->attrs.dict), 0, 0});
        }
      }
    }
    for (const NodePtr& n : order) {
      if (n->is_variable()) continue;
      uint32_t expected = n->attrs.op->NumInputs(n->attrs);
      if (n->inputs.size() != expected) {
        std::string names;
        for (const auto& s : n->attrs.op->ListInputNames(n->attrs)) {
          names += (names.empty() ? "" : ", ") + s;
        }
        throw Error(Describe(*n) + ": expected " + std::to_string(expected) + " inputs (" + names +
                    ") but got " + std::to_string(n->inputs.size()));
      }
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        const NodeEntry& e = n->inputs[i];
        uint32_t outs = e.node->num_outputs();
        LOOM_CHECK(e.index < outs, Describe(*n), ": input ", i, " reads output ", e.index,
                   " of node '", e.node->attrs.name, "', which has ", outs, " output(s)");
      }
    }
    for (const NodeEntry& e : heads) {
      uint32_t outs = e.node->num_outputs();
      LOOM_CHECK(e.index < outs, source_, ": heads read output ", e.index, " of node '",
                 e.node->attrs.name, "', which has ", outs, " output(s)");
    }
    if (version < 904) {
      for (const NodePtr& n : order) {
        if (n->is_variable()) continue;
        const auto& set_attr = n->attrs.op->set_input_var_attr();
        if (!set_attr) continue;
        for (uint32_t i = 0; i < n->inputs.size(); ++i) {
          if (n->inputs[i].node->is_variable()) {
            set_attr(n->attrs, &n->inputs[i].node->attrs.dict, i);
          }
        }
      }
    }
    if (version < 905) {
      // argmax/argmin's axis became optional in 0.9.5; -1 then meant "all axes".
      for (const NodePtr& n : order) {
        if (n->is_variable()) continue;
        const std::string& op = n->attrs.op->name();
        auto it = n->attrs.dict.find("axis");
        if ((op == "argmax" || op == "argmin") && it != n->attrs.dict.end() && it->second == "-1") {
          n->attrs.dict.erase(it);
          Parse(n.get());
        }
      }
    }
  }

  std::string source_;
  JsonValue root_;
  std::vector<NodePtr> nodes_;
  std::unordered_map<const Node*, std::string> sources_;
};

}  // namespace

Symbol Symbol::FromJSON(std::string_view json, std::string_view source) {
  return Loader(json, source).Load();
}

void Symbol::Save(const std::string& path) const {
  std::string json = ToJSON();
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    LOOM_CHECK(out.good(), "cannot open '", tmp, "' for writing");
    out << json;
    out.close();
    LOOM_CHECK(out.good(), "cannot write '", tmp, "'");
  }
  LOOM_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename '", tmp, "' to '", path,
             "'");
}

Symbol Symbol::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  LOOM_CHECK(in.good(), "cannot open symbol file '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  return FromJSON(text.str(), path);
}

}  // namespace loom
