// Symbol attributes: attr, list_attr, attr_dict and copies with extra attributes.
#include <unordered_map>
#include <unordered_set>

#include "hidden_keys.h"
#include "loom/core/operator.h"
#include "loom/core/symbol.h"

namespace loom {

namespace {

// Keys of `n`'s dictionary that are operator parameters rather than attributes: the operator's
// own parameters, and for a variable created automatically for an operator's input
// (`<op node>_<input>`), the copies of that operator's parameters it carries.
bool IsOpParam(const Node& op_node, std::string_view key) {
  const OpSchema& op = *op_node.attrs.op;
  return op.params().Has(key) || (op.is_variadic() && key == op.variadic_count_param());
}

StrMap UserAttrs(const Node& n, const Node* creator) {
  StrMap out;
  for (const auto& [key, value] : n.attrs.dict) {
    const Node* owner = n.is_variable() ? creator : &n;
    if (owner && IsOpParam(*owner, key)) continue;
    out.emplace(key, value);
  }
  return detail::WithBareHiddenKeys(out);
}

}  // namespace

std::optional<std::string> Symbol::Attr(std::string_view key) const {
  if (outputs_.empty()) return std::nullopt;
  const Node* node = outputs_[0].node.get();
  for (const NodeEntry& e : outputs_) {
    if (e.node.get() != node) return std::nullopt;
  }
  if (key == "name") return node->attrs.name;
  if (key == "op_name") return node->is_variable() ? "null" : node->attrs.op->name();
  if (key == "_value_index") return std::to_string(outputs_[0].index);
  auto it = node->attrs.dict.find(key);
  if (it != node->attrs.dict.end()) return it->second;
  for (std::string_view hidden : detail::kHiddenKeys) {
    if (key == hidden) {
      it = node->attrs.dict.find("__" + std::string(key) + "__");
      if (it != node->attrs.dict.end()) return it->second;
    }
  }
  return std::nullopt;
}

StrMap Symbol::ListAttr() const {
  if (outputs_.empty()) return {};
  return UserAttrs(*outputs_[0].node, nullptr);
}

StrMap Symbol::ListAttrRecursive() const {
  // Which operator node created each automatic variable (`<node>_<input>` at that input).
  std::unordered_map<const Node*, const Node*> creator;
  PostOrderDFS(outputs_, [&](const NodePtr& n) {
    if (n->is_variable()) return;
    std::vector<std::string> names = n->attrs.op->ListInputNames(n->attrs);
    for (size_t i = 0; i < n->inputs.size() && i < names.size(); ++i) {
      const Node* in = n->inputs[i].node.get();
      if (in->is_variable() && in->attrs.name == n->attrs.name + "_" + names[i]) {
        creator.emplace(in, n.get());
      }
    }
  });
  StrMap out;
  PostOrderDFS(outputs_, [&](const NodePtr& n) {
    auto it = creator.find(n.get());
    for (const auto& [key, value] : UserAttrs(*n, it == creator.end() ? nullptr : it->second)) {
      out[n->attrs.name + "_" + key] = value;
    }
  });
  return out;
}

std::map<std::string, StrMap> Symbol::AttrDict() const {
  std::map<std::string, StrMap> out;
  PostOrderDFS(outputs_, [&](const NodePtr& n) {
    if (n->attrs.dict.empty()) return;
    for (const auto& [key, value] : detail::WithBareHiddenKeys(n->attrs.dict)) {
      out[n->attrs.name][key] = value;
    }
  });
  return out;
}

Symbol Symbol::WithAttrs(const StrMap& attrs) const {
  std::unordered_map<const Node*, NodePtr> copies;
  std::vector<NodeEntry> outputs = outputs_;
  for (NodeEntry& e : outputs) {
    auto [it, inserted] = copies.try_emplace(e.node.get());
    if (inserted) {
      it->second = e.node->ShallowCopy();
      for (const auto& [key, value] : attrs) {
        it->second->attrs.dict[detail::HiddenKeyOnSet(key, value)] = value;
      }
      if (!it->second->is_variable()) it->second->attrs.op->ParseParams(&it->second->attrs);
    }
    e.node = it->second;
  }
  return Symbol(std::move(outputs));
}

}  // namespace loom
