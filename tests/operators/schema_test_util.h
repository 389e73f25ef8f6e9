// Helpers for the operator schema tests: build an operator with auto-created inputs, look up
// inferred shapes and dtypes by name, and check error messages.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "loom/core/operator.h"
#include "loom/core/symbol.h"

namespace loom::testing {

using Params = std::vector<std::pair<std::string, std::string>>;

/// Operator `op` named "op" with these parameters; inputs not given become variables op_<input>.
inline Symbol MakeOp(std::string_view op, const Params& params,
                     const std::vector<Symbol>& positional = {}) {
  OpCall call = Symbol::Op(op);
  for (const Symbol& s : positional) call.Input(s);
  for (const auto& [k, v] : params) call.Param(k, v);
  return call.Name("op").Build();
}

/// The inferred value of argument, output or auxiliary state `name`.
template <typename T>
T ValueOf(const Symbol& s, const Inferred<T>& r, std::string_view name) {
  const auto args = s.ListArguments();
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) return r.arguments[i];
  }
  const auto outs = s.ListOutputs();
  for (size_t i = 0; i < outs.size(); ++i) {
    if (outs[i] == name) return r.outputs[i];
  }
  const auto aux = s.ListAuxiliaryStates();
  for (size_t i = 0; i < aux.size(); ++i) {
    if (aux[i] == name) return r.auxiliary_states[i];
  }
  ADD_FAILURE() << "no argument, output or auxiliary state named " << name;
  return T{};
}

/// Partial shape inference, then the shape of `name`.
inline Shape PartialShape(const Symbol& s, const ShapeDict& known, std::string_view name) {
  return ValueOf(s, s.InferShapePartial(known), name);
}

inline DType PartialType(const Symbol& s, const TypeDict& known, std::string_view name) {
  return ValueOf(s, s.InferTypePartial(known), name);
}

/// Runs `fn`, expecting an ErrorType whose message contains every one of `parts`.
template <typename ErrorType = Error, typename Fn>
void ExpectError(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning " << parts.front();
  } catch (const ErrorType& e) {
    const std::string what = e.what();
    for (const std::string& p : parts) {
      EXPECT_NE(what.find(p), std::string::npos) << "'" << p << "' not in: " << what;
    }
  }
}

}  // namespace loom::testing
