// Attributes given to every symbol created inside a scope (MXNet's mx.AttrScope).
//
//   {
//     loom::AttrScope group({{"ctx_group", "stage1"}});
//     loom::Symbol fc = ...;              // fc and its automatic fc_weight/fc_bias get
//   }                                     // __ctx_group__ = "stage1"
//
// Scopes nest: an inner scope's attributes are merged over the outer ones (inner wins), and the
// attributes given explicitly when creating a symbol win over the scope's. Scopes are per thread
// and must be destroyed on the thread that created them, innermost first.
#pragma once

#include <initializer_list>

#include "loom/core/op_param.h"

namespace loom {

class AttrScope {
 public:
  explicit AttrScope(const StrMap& attrs);
  AttrScope(std::initializer_list<StrMap::value_type> attrs) : AttrScope(StrMap(attrs)) {}
  ~AttrScope();
  AttrScope(const AttrScope&) = delete;
  AttrScope& operator=(const AttrScope&) = delete;

  /// The current scope's attributes updated with `explicit_attrs`.
  static StrMap Current(const StrMap& explicit_attrs = {});

 private:
  StrMap attrs_;
  const AttrScope* previous_;
};

}  // namespace loom
