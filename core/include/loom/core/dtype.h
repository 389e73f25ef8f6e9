// Element types of arrays, numbered as MXNet numbers them (its .params files store these codes).
//
//   loom::DType t = loom::ParseDType("float16");
//   loom::DTypeSize(t);      // 2
//   loom::ToString(t);       // "float16"
//
// kUnknown marks a type not yet inferred. Free functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace loom {

/// Element types, with MXNet's (mshadow's) type codes as values.
enum class DType : int8_t {
  kUnknown = -1,
  kFloat32 = 0,
  kFloat64 = 1,
  kFloat16 = 2,
  kUInt8 = 3,
  kInt32 = 4,
  kInt8 = 5,
  kInt64 = 6,
  kBool = 7,
  kCount
};

/// "float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool"; "unknown".
const char* ToString(DType type);
/// Bytes per element; 0 for kUnknown.
size_t DTypeSize(DType type);
/// Parses a name above (also "float", "double", "half", "int", "long"); throws loom::DTypeError
/// naming the text and the accepted names otherwise.
DType ParseDType(std::string_view name);
/// The type with MXNet code `code`; throws loom::DTypeError when there is none.
DType DTypeFromCode(int code);
/// True for float16, float32 and float64.
bool IsFloat(DType type);

}  // namespace loom
