// Moving an NDArray's elements to and from raw little-endian bytes (the .params and checkpoint
// formats both store arrays this way).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "loom/core/ndarray.h"

namespace loom::train::detail {

/// The product of dims, multiplied in order as Shape::Size() does; std::nullopt when a partial
/// product overflows int64 (such a shape must be rejected before an NDArray is made of it).
std::optional<int64_t> CheckedElementCount(std::span<const int64_t> dims);

/// The elements of `a` (row-major), after its pending writes; copies through the host for device
/// arrays. `a` must not be none.
std::string ArrayBytes(const NDArray& a);

/// A new cpu(0) array of `shape` and `dtype` holding `bytes`, which must be exactly
/// shape.Size() * DTypeSize(dtype) long (the callers check, with their own messages).
NDArray ArrayFromBytes(const Shape& shape, DType dtype, std::string_view bytes);

}  // namespace loom::train::detail
