// Symbol construction, composition and structure queries (MXNet's nnvm::Symbol semantics).
#include "loom/core/symbol.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "hidden_keys.h"
#include "loom/core/attr_scope.h"
#include "loom/core/name_manager.h"
#include "loom/core/operator.h"

namespace loom {

std::string Scalar::ToString() const {
  return is_int ? FormatParam(static_cast<int64_t>(value)) : FormatParam(value);
}

namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// MXNet's UpdateNodeVersion: variable inputs are read at their current version; auxiliary
// (mutated) inputs bump it.
void UpdateNodeVersion(Node* n) {
  for (NodeEntry& e : n->inputs) {
    if (e.node->is_variable()) e.version = e.node->mutation_version.load();
  }
  if (n->is_variable()) return;
  for (uint32_t i : n->attrs.op->AuxInputIndices(n->attrs)) {
    if (i >= n->inputs.size()) continue;
    NodeEntry& e = n->inputs[i];
    LOOM_CHECK(e.node->is_variable(), n->attrs.name, ": ", n->attrs.op->name(), " input ", i,
               " is an auxiliary state and must be a variable, but got the output of '",
               e.node->attrs.name, "'");
    e.version = ++e.node->mutation_version;
  }
}

std::string OutputName(const NodeEntry& e) {
  const Node& n = *e.node;
  if (n.is_variable()) return n.attrs.name;
  if (auto names = n.attrs.op->ListOutputNames(n.attrs)) {
    return n.attrs.name + "_" + (*names)[e.index];
  }
  if (n.num_outputs() == 1) return n.attrs.name + "_output";
  return n.attrs.name + "_output" + std::to_string(e.index);
}

}  // namespace

Symbol Symbol::Variable(std::string_view name, const VariableOptions& options) {
  LOOM_CHECK(!name.empty(), "a Variable needs a name");
  StrMap attrs = AttrScope::Current(options.attr);
  if (options.shape) attrs["__shape__"] = FormatParam(*options.shape);
  if (options.lr_mult) attrs["__lr_mult__"] = options.lr_mult->ToString();
  if (options.wd_mult) attrs["__wd_mult__"] = options.wd_mult->ToString();
  if (options.dtype) attrs["__dtype__"] = std::to_string(static_cast<int>(*options.dtype));
  if (options.init) attrs["__init__"] = *options.init;
  StrMap dict;
  for (const auto& [k, v] : attrs) dict[detail::HiddenKeyOnSet(k, v)] = v;
  return Symbol({NodeEntry{Node::CreateVariable(std::string(name), std::move(dict)), 0, 0}});
}

OpCall Symbol::Op(std::string_view op_name) { return OpCall(op_name); }

Symbol Symbol::Group(const std::vector<Symbol>& symbols) {
  std::vector<NodeEntry> outputs;
  for (const Symbol& s : symbols) {
    outputs.insert(outputs.end(), s.outputs_.begin(), s.outputs_.end());
  }
  return Symbol(std::move(outputs));
}

Symbol Symbol::DeepCopy() const {
  std::unordered_map<const Node*, NodePtr> copies;
  PostOrderDFS(outputs_, [&](const NodePtr& n) {
    NodePtr c = n->ShallowCopy();
    for (NodeEntry& e : c->inputs) e.node = copies.at(e.node.get());
    for (NodePtr& d : c->control_deps) d = copies.at(d.get());
    copies.emplace(n.get(), std::move(c));
  });
  std::vector<NodeEntry> outputs = outputs_;
  for (NodeEntry& e : outputs) e.node = copies.at(e.node.get());
  return Symbol(std::move(outputs));
}

Symbol Symbol::Compose(const NamedSymbols& inputs, std::string_view name) const {
  LOOM_CHECK(!outputs_.empty(), "cannot compose an empty symbol");
  for (const auto& [key, s] : inputs) {
    LOOM_CHECK(s.num_outputs() == 1, "compose: input '", key, "' has ", s.num_outputs(),
               " outputs but a single output is required (select one with [i])");
  }
  Symbol copy = DeepCopy();
  if (!name.empty()) copy.outputs_[0].node->attrs.name = std::string(name);
  std::unordered_map<const Node*, const NodeEntry*> replace;
  std::unordered_set<std::string_view> matched;
  PostOrderDFS(copy.outputs_, [&](const NodePtr& n) {
    if (!n->is_variable()) return;
    for (const auto& [key, s] : inputs) {
      if (key == n->attrs.name) {
        replace[n.get()] = &s.outputs_[0];
        matched.insert(key);
        break;
      }
    }
  });
  if (matched.size() != inputs.size()) {
    for (const auto& [key, s] : inputs) {
      LOOM_CHECK(matched.count(key), "compose: keyword argument name '", key,
                 "' not found; the symbol's inputs are: ", JoinNames(copy.ListInputs()));
    }
  }
  std::vector<Node*> updated;
  PostOrderDFS(copy.outputs_, [&](const NodePtr& n) {
    bool changed = false;
    for (NodeEntry& e : n->inputs) {
      auto it = replace.find(e.node.get());
      if (it != replace.end()) {
        e = *it->second;
        changed = true;
      }
    }
    if (changed) updated.push_back(n.get());
  });
  for (Node* n : updated) UpdateNodeVersion(n);
  return copy;
}

Symbol Symbol::operator[](size_t index) const {
  LOOM_CHECK(index < outputs_.size(), "output index ", index, " is out of range: the symbol has ",
             outputs_.size(), " outputs");
  return Symbol({outputs_[index]});
}

Symbol Symbol::operator[](std::string_view name) const {
  std::vector<std::string> names = ListOutputs();
  std::optional<size_t> found;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != name) continue;
    LOOM_CHECK(!found, "there are multiple outputs named '", name, "'");
    found = i;
  }
  LOOM_CHECK(found.has_value(), "no output named '", name, "'; outputs are: ", JoinNames(names));
  return Symbol({outputs_[*found]});
}

std::optional<std::string> Symbol::name() const {
  if (outputs_.size() != 1) return std::nullopt;
  return outputs_[0].node->attrs.name;
}

Symbol Symbol::GetInternals() const {
  std::vector<NodeEntry> out;
  PostOrderDFS(outputs_, [&](const NodePtr& n) {
    if (n->is_variable()) {
      out.push_back(NodeEntry{n, 0, n->mutation_version.load()});
      return;
    }
    uint32_t visible = n->num_visible_outputs();
    for (uint32_t i = 0; i < visible; ++i) out.push_back(NodeEntry{n, i, 0});
  });
  return Symbol(std::move(out));
}

std::optional<Symbol> Symbol::GetChildren() const {
  std::vector<NodeEntry> out;
  std::unordered_set<const Node*> seen;
  for (const NodeEntry& e : outputs_) {
    if (!seen.insert(e.node.get()).second) continue;
    out.insert(out.end(), e.node->inputs.begin(), e.node->inputs.end());
  }
  if (out.empty()) return std::nullopt;
  return Symbol(std::move(out));
}

std::vector<std::string> Symbol::ListOutputs() const {
  std::vector<std::string> names;
  for (const NodeEntry& e : outputs_) names.push_back(OutputName(e));
  return names;
}

namespace {
enum class InputKind { kAll, kArguments, kAux };
std::vector<std::string> ListVariables(const std::vector<NodeEntry>& outputs, InputKind kind) {
  IndexedGraph g(outputs);
  std::vector<std::string> names;
  for (uint32_t nid : g.variable_nodes()) {
    bool aux = g.is_aux()[nid];
    if (kind == InputKind::kAll || (kind == InputKind::kAux) == aux) {
      names.push_back(g.node(nid)->attrs.name);
    }
  }
  return names;
}
}  // namespace

std::vector<std::string> Symbol::ListArguments() const {
  return ListVariables(outputs_, InputKind::kArguments);
}
std::vector<std::string> Symbol::ListAuxiliaryStates() const {
  return ListVariables(outputs_, InputKind::kAux);
}
std::vector<std::string> Symbol::ListInputs() const {
  return ListVariables(outputs_, InputKind::kAll);
}

// ---- OpCall ----

OpCall::OpCall(std::string_view op_name) : op_name_(op_name) {}

OpCall& OpCall::Input(const Symbol& input) {
  positional_.push_back(input);
  return *this;
}
OpCall& OpCall::Input(std::string name, const Symbol& input) {
  named_.emplace_back(std::move(name), input);
  return *this;
}
OpCall& OpCall::Inputs(const std::vector<Symbol>& inputs) {
  positional_.insert(positional_.end(), inputs.begin(), inputs.end());
  return *this;
}
OpCall& OpCall::Param(std::string key, std::string value) {
  params_.emplace_back(std::move(key), std::move(value));
  return *this;
}
OpCall& OpCall::Params(const StrMap& params) {
  for (const auto& [k, v] : params) params_.emplace_back(k, v);
  return *this;
}
OpCall& OpCall::Attr(std::string key, std::string value) {
  attrs_[std::move(key)] = std::move(value);
  return *this;
}
OpCall& OpCall::Attrs(const StrMap& attrs) {
  for (const auto& [k, v] : attrs) attrs_[k] = v;
  return *this;
}
OpCall& OpCall::Name(std::string name) {
  name_ = std::move(name);
  return *this;
}

Symbol OpCall::Build() const {
  const OpSchema& op = OpRegistry::Global().Get(op_name_);
  auto node = std::make_shared<Node>();
  node->attrs.op = &op;
  std::string where = op.name() + (name_.empty() ? "" : " '" + name_ + "'");
  for (const auto& [key, value] : params_) {
    std::string stored = detail::HiddenKeyOnCreate(key, value);
    bool attribute = stored != key || (key.size() > 4 && key.starts_with("__") &&
                                       key.ends_with("__"));
    if (!attribute && !op.params().Has(key) && key != op.variadic_count_param()) {
      std::string names;
      for (const auto& f : op.params().fields()) names += (names.empty() ? "" : ", ") + f.name;
      if (op.is_variadic()) names += (names.empty() ? "" : ", ") + op.variadic_count_param();
      throw Error(where + ": unknown parameter '" + key + "'; " +
                  (names.empty() ? "the operator has no parameters"
                                 : "its parameters are: " + names) +
                  " (attributes go through Attr())");
    }
    node->attrs.dict[stored] = value;
  }
  for (const auto& [key, value] : AttrScope::Current(attrs_)) {
    node->attrs.dict[detail::HiddenKeyOnCreate(key, value)] = value;
  }
  if (op.is_variadic()) {
    LOOM_CHECK(named_.empty(), where, " takes a variable number of inputs, which must be given "
               "by position, but got input '", named_.empty() ? "" : named_[0].first, "'");
    node->attrs.dict.try_emplace(op.variadic_count_param(), std::to_string(positional_.size()));
  }
  node->attrs.name = NameManager::Current().Get(name_, detail::Lower(op_name_));
  op.ParseParams(&node->attrs);

  std::vector<std::string> arg_names = op.ListInputNames(node->attrs);
  const size_t n_req = arg_names.size();
  auto entry_of = [&](const Symbol& s, std::string_view what) {
    LOOM_CHECK(s.num_outputs() == 1, node->attrs.name, ": ", op.name(), " input ", what, " has ",
               s.num_outputs(), " outputs but a single output is required (select one with [i])");
    return s.outputs()[0];
  };
  LOOM_CHECK(positional_.size() <= n_req, node->attrs.name, ": ", op.name(), " takes ", n_req,
             " inputs (", JoinNames(arg_names), ") but ", positional_.size(), " were given");
  for (size_t i = 0; i < positional_.size(); ++i) {
    node->inputs.push_back(entry_of(positional_[i], "'" + arg_names[i] + "'"));
  }
  size_t matched = 0;
  for (size_t i = positional_.size(); i < n_req; ++i) {
    auto it = std::find_if(named_.begin(), named_.end(),
                           [&](const auto& kv) { return kv.first == arg_names[i]; });
    if (it != named_.end()) {
      node->inputs.push_back(entry_of(it->second, "'" + arg_names[i] + "'"));
      ++matched;
    } else {
      node->inputs.push_back(
          NodeEntry{Node::CreateVariable(node->attrs.name + "_" + arg_names[i], node->attrs.dict),
                    0, 0});
    }
  }
  if (matched != named_.size()) {
    std::vector<std::string> free(arg_names.begin() + positional_.size(), arg_names.end());
    for (const auto& [key, s] : named_) {
      LOOM_CHECK(std::find(free.begin(), free.end(), key) != free.end(), node->attrs.name, ": ",
                 op.name(), " has no input '", key, "'; ",
                 free.empty() ? std::string("all inputs were given by position")
                              : "inputs left are: " + JoinNames(free));
    }
    throw Error(node->attrs.name + ": " + op.name() + " got an input twice");
  }
  UpdateNodeVersion(node.get());
  if (const auto& set_attr = op.set_input_var_attr()) {
    for (uint32_t i = 0; i < node->inputs.size(); ++i) {
      if (node->inputs[i].node->is_variable()) {
        set_attr(node->attrs, &node->inputs[i].node->attrs.dict, i);
      }
    }
  }
  std::vector<NodeEntry> outputs;
  uint32_t visible = node->num_visible_outputs();
  for (uint32_t i = 0; i < visible; ++i) outputs.push_back(NodeEntry{node, i, 0});
  return Symbol(std::move(outputs));
}

// ---- arithmetic ----

namespace {
Symbol Binary(const char* op, const Symbol& lhs, const Symbol& rhs) {
  return Symbol::Op(op).Input("lhs", lhs).Input("rhs", rhs).Build();
}
Symbol WithScalar(const char* op, const Symbol& data, Scalar scalar) {
  return Symbol::Op(op).Input("data", data).Param("scalar", scalar.ToString()).Build();
}
}  // namespace

Symbol operator+(const Symbol& lhs, const Symbol& rhs) { return Binary("_Plus", lhs, rhs); }
Symbol operator-(const Symbol& lhs, const Symbol& rhs) { return Binary("_Minus", lhs, rhs); }
Symbol operator*(const Symbol& lhs, const Symbol& rhs) { return Binary("_Mul", lhs, rhs); }
Symbol operator/(const Symbol& lhs, const Symbol& rhs) { return Binary("_Div", lhs, rhs); }
Symbol operator+(const Symbol& lhs, Scalar rhs) { return WithScalar("_PlusScalar", lhs, rhs); }
Symbol operator-(const Symbol& lhs, Scalar rhs) { return WithScalar("_MinusScalar", lhs, rhs); }
Symbol operator*(const Symbol& lhs, Scalar rhs) { return WithScalar("_MulScalar", lhs, rhs); }
Symbol operator/(const Symbol& lhs, Scalar rhs) { return WithScalar("_DivScalar", lhs, rhs); }
Symbol operator+(Scalar lhs, const Symbol& rhs) { return WithScalar("_PlusScalar", rhs, lhs); }
Symbol operator-(Scalar lhs, const Symbol& rhs) { return WithScalar("_RMinusScalar", rhs, lhs); }
Symbol operator*(Scalar lhs, const Symbol& rhs) { return WithScalar("_MulScalar", rhs, lhs); }
Symbol operator/(Scalar lhs, const Symbol& rhs) { return WithScalar("_RDivScalar", rhs, lhs); }
Symbol operator-(const Symbol& operand) { return operand * Scalar(-1.0); }

}  // namespace loom
