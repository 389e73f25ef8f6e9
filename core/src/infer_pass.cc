#include "loom/core/infer_pass.h"

#include "loom/core/op_param.h"
#include "loom/core/operator.h"

namespace loom {

std::string EntryName(const IndexedGraph& graph, uint32_t nid, uint32_t index) {
  const Node& n = *graph.node(nid);
  if (n.is_variable()) return n.attrs.name;
  if (auto names = n.attrs.op->ListOutputNames(n.attrs)) return n.attrs.name + "_" + (*names)[index];
  if (n.num_outputs() == 1) return n.attrs.name + "_output";
  return n.attrs.name + "_output" + std::to_string(index);
}

namespace {

struct ShapeTraits {
  using T = Shape;
  static constexpr const char* kAttr = "__shape__";
  static constexpr const char* kWhat = "shape";
  static bool Known(const Shape& s) { return s.IsKnown(); }
  static bool Unknown(const Shape& s) { return s.ndim() == 0; }
  static Shape FromAttr(const std::string& text) { return Shape::Parse(text); }
  static const InferShapeFn& Fn(const OpSchema& op) { return op.infer_shape(); }
};

struct TypeTraits {
  using T = DType;
  static constexpr const char* kAttr = "__dtype__";
  static constexpr const char* kWhat = "dtype";
  static bool Known(DType t) { return t != DType::kUnknown; }
  static bool Unknown(DType t) { return t == DType::kUnknown; }
  static DType FromAttr(const std::string& text) { return detail::ParamTraits<DType>::Parse(text); }
  static const InferTypeFn& Fn(const OpSchema& op) { return op.infer_type(); }
};

template <typename Traits>
size_t Infer(const IndexedGraph& g, std::vector<typename Traits::T>* values) {
  using T = typename Traits::T;
  LOOM_INTERNAL_ASSERT(values->size() == g.num_entries(), "expected one value per entry");
  std::vector<std::vector<std::string>> input_names(g.num_nodes()), input_sources(g.num_nodes());
  for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) {
    const Node& n = *g.node(nid);
    if (n.is_variable()) {
      T& v = (*values)[g.entry_id(nid, 0)];
      auto it = n.attrs.dict.find(Traits::kAttr);
      if (Traits::Unknown(v) && it != n.attrs.dict.end()) {
        try {
          v = Traits::FromAttr(it->second);
        } catch (Error& e) {
          e.AddContext("in attribute " + std::string(Traits::kAttr) + " of variable '" +
                       n.attrs.name + "'");
          throw;
        }
      }
      continue;
    }
    input_names[nid] = n.attrs.op->ListInputNames(n.attrs);
    for (const NodeEntry& e : n.inputs) {
      input_sources[nid].push_back(EntryName(g, g.node_id(e.node.get()), e.index));
    }
  }

  std::vector<T> in, out;
  auto visit = [&](uint32_t nid) -> bool {
    const Node& n = *g.node(nid);
    if (n.is_variable()) return false;
    const auto& fn = Traits::Fn(*n.attrs.op);
    if (!fn) return false;
    const auto& in_ids = g.input_entries(nid);
    in.clear();
    out.clear();
    for (uint32_t id : in_ids) in.push_back((*values)[id]);
    uint32_t nout = n.num_outputs();
    for (uint32_t i = 0; i < nout; ++i) out.push_back((*values)[g.entry_id(nid, i)]);
    InferContext<T> ctx(n.attrs, &in, &out, &input_names[nid], &input_sources[nid]);
    try {
      fn(ctx);
    } catch (ShapeError&) {
      throw;
    } catch (DTypeError&) {
      throw;
    } catch (Error& e) {
      e.AddContext("while inferring the " + std::string(Traits::kWhat) + " of node '" +
                   n.attrs.name + "' (" + n.attrs.op->name() + ")");
      throw;
    } catch (std::exception& e) {
      throw Error(n.attrs.name + ": " + n.attrs.op->name() + " " + Traits::kWhat +
                  " inference failed: " + e.what());
    }
    bool changed = false;
    for (size_t i = 0; i < in_ids.size(); ++i) {
      T& dst = (*values)[in_ids[i]];
      if (!(dst == in[i])) {
        dst = in[i];
        changed = true;
      }
    }
    for (uint32_t i = 0; i < nout; ++i) {
      T& dst = (*values)[g.entry_id(nid, i)];
      if (!(dst == out[i])) {
        dst = out[i];
        changed = true;
      }
    }
    return changed;
  };

  const size_t max_sweeps = 2 * g.num_nodes() + 4;
  for (size_t sweep = 0; sweep < max_sweeps; ++sweep) {
    bool changed = false;
    for (uint32_t nid = 0; nid < g.num_nodes(); ++nid) changed |= visit(nid);
    for (uint32_t nid = static_cast<uint32_t>(g.num_nodes()); nid-- > 0;) changed |= visit(nid);
    if (!changed) break;
  }
  size_t unknown = 0;
  for (const T& v : *values) unknown += Traits::Known(v) ? 0 : 1;
  return unknown;
}

}  // namespace

size_t InferShapes(const IndexedGraph& graph, std::vector<Shape>* shapes) {
  return Infer<ShapeTraits>(graph, shapes);
}

size_t InferTypes(const IndexedGraph& graph, std::vector<DType>* types) {
  return Infer<TypeTraits>(graph, types);
}

}  // namespace loom
