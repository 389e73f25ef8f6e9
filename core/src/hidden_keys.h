// MXNet's hidden attribute keys (kHiddenKeys) and the rules for storing them as `__key__`.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "loom/core/op_param.h"

namespace loom::detail {

inline constexpr std::array<std::string_view, 5> kHiddenKeys = {
    "ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage"};

/// Key under which an attribute given when creating an operator is stored: a key starting with a
/// hidden key becomes `__key__`; one ending with `_<hidden>` (weight_lr_mult) is refused.
std::string HiddenKeyOnCreate(std::string_view key, std::string_view value);
/// Key under which an attribute set on an existing symbol or variable is stored: exactly a
/// hidden key becomes `__key__`; `x_<hidden>` is refused.
std::string HiddenKeyOnSet(std::string_view key, std::string_view value);
/// `dict` plus, for each `__hidden__` key, a copy under the bare hidden name.
StrMap WithBareHiddenKeys(const StrMap& dict);
/// Lowercased ASCII copy.
std::string Lower(std::string_view text);

}  // namespace loom::detail
