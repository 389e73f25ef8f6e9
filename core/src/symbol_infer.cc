// Symbol::InferShape / InferType: the inference passes seeded with the user's known values.
#include <set>

#include "loom/core/infer_pass.h"
#include "loom/core/symbol.h"

namespace loom {

namespace {

std::string Describe(const Shape& s) { return s.ToString(); }
std::string Describe(DType t) { return ToString(t); }
bool Known(const Shape& s) { return s.IsKnown(); }
bool Known(DType t) { return t != DType::kUnknown; }

template <typename T, typename Dict, typename Pass>
Inferred<T> Run(const std::vector<NodeEntry>& outputs, const Dict& known, const char* what,
                Pass pass) {
  IndexedGraph g(outputs);
  std::vector<T> values(g.num_entries());
  if constexpr (std::is_same_v<T, DType>) values.assign(g.num_entries(), DType::kUnknown);
  std::set<std::string, std::less<>> matched;
  for (uint32_t nid : g.variable_nodes()) {
    const std::string& name = g.node(nid)->attrs.name;
    auto it = known.find(name);
    if (it == known.end()) continue;
    values[g.entry_id(nid, 0)] = it->second;
    matched.insert(name);
  }
  for (const auto& [name, value] : known) {
    if (matched.count(name)) continue;
    std::string inputs;
    for (uint32_t nid : g.variable_nodes()) {
      inputs += (inputs.empty() ? "" : ", ") + g.node(nid)->attrs.name;
    }
    throw Error(std::string(what) + ": '" + name + "' (given " + Describe(value) +
                ") is not an argument or auxiliary state of the symbol; its inputs are: " +
                inputs);
  }
  pass(g, &values);
  Inferred<T> result;
  for (uint32_t nid : g.variable_nodes()) {
    const T& v = values[g.entry_id(nid, 0)];
    (g.is_aux()[nid] ? result.auxiliary_states : result.arguments).push_back(v);
    if (!Known(v)) result.unknown.push_back(g.node(nid)->attrs.name);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    uint32_t id = g.output_entries()[i];
    result.outputs.push_back(values[id]);
    if (!Known(values[id])) {
      uint32_t nid = g.node_id(outputs[i].node.get());
      result.unknown.push_back(EntryName(g, nid, outputs[i].index));
    }
  }
  return result;
}

}  // namespace

InferredShapes Symbol::InferShapePartial(const ShapeDict& known) const {
  return Run<Shape>(outputs_, known, "infer_shape",
                    [](const IndexedGraph& g, std::vector<Shape>* v) { InferShapes(g, v); });
}

std::optional<InferredShapes> Symbol::InferShape(const ShapeDict& known) const {
  InferredShapes r = InferShapePartial(known);
  if (!r.complete()) return std::nullopt;
  return r;
}

InferredTypes Symbol::InferTypePartial(const TypeDict& known) const {
  return Run<DType>(outputs_, known, "infer_type",
                    [](const IndexedGraph& g, std::vector<DType>* v) { InferTypes(g, v); });
}

std::optional<InferredTypes> Symbol::InferType(const TypeDict& known) const {
  InferredTypes r = InferTypePartial(known);
  if (!r.complete()) return std::nullopt;
  return r;
}

}  // namespace loom
