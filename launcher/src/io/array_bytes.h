// Moving an NDArray's elements to and from raw little-endian bytes (the .params and checkpoint
// formats both store arrays this way).
#pragma once

#include <string>
#include <string_view>

#include "loom/core/ndarray.h"

namespace loom::train::detail {

/// The elements of `a` (row-major), after its pending writes; copies through the host for device
/// arrays. `a` must not be none.
std::string ArrayBytes(const NDArray& a);

/// A new cpu(0) array of `shape` and `dtype` holding `bytes`, which must be exactly
/// shape.Size() * DTypeSize(dtype) long (the callers check, with their own messages).
NDArray ArrayFromBytes(const Shape& shape, DType dtype, std::string_view bytes);

}  // namespace loom::train::detail
