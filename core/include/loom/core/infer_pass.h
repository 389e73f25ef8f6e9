// Shape and type inference as graph passes, shared by Symbol::InferShape/InferType and the
// executor.
//
//   loom::IndexedGraph g(symbol.outputs());
//   std::vector<loom::Shape> shapes(g.num_entries());           // one per entry, unknown = ()
//   shapes[g.entry_id(g.variable_nodes()[0], 0)] = loom::Shape{32, 100};
//   size_t unknown = loom::InferShapes(g, &shapes);              // 0 when everything is known
//
// Values already present are kept (they win over a variable's `__shape__`/`__dtype__`
// attribute, which fills only unknown variables). Forward and backward sweeps repeat until
// nothing changes, so shapes flow from outputs and weights back to inputs too. A conflict throws
// ShapeError/DTypeError naming the node, operator, input and both values. Pure functions of
// their arguments; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loom/core/dtype.h"
#include "loom/core/graph.h"
#include "loom/core/shape.h"

namespace loom {

/// Runs shape inference; returns how many entries are still not fully known.
size_t InferShapes(const IndexedGraph& graph, std::vector<Shape>* shapes);
/// Runs type inference; returns how many entries are still unknown.
size_t InferTypes(const IndexedGraph& graph, std::vector<DType>* types);
/// The user-facing name of an entry: the variable's name or `<node>_output...`.
std::string EntryName(const IndexedGraph& graph, uint32_t nid, uint32_t index);

}  // namespace loom
