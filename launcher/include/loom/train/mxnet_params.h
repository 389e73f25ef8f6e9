// MXNet's binary NDArray-list files (mx.nd.save / mx.nd.load, prefix-NNNN.params), byte-compatible
// with MXNet 1.9.1 in both directions. docs/file-formats.md gives the layout.
//
//   loom::train::NamedArrays params = loom::train::LoadMXNetParams("net1-0001.params");
//   loom::NDArray w = params.at("arg:fc1_weight");      // "arg:<name>" and "aux:<name>" keys
//   loom::train::SaveMXNetParams("net1-0002.params", params);   // mx.nd.load reads it
//
// Reading accepts MXNet's current array records (magic 0xF993FAC9), its numpy-shape records
// (0xF993FACA), the older V1 records (0xF993FAC8, int64 dimensions) and the oldest ones without
// magic (uint32 dimensions); dense arrays of every dtype loom::DType has (sparse arrays and MXNet's
// int16/uint16/uint32/uint64/bfloat16 throw NotSupportedError). Writing produces current records
// with context cpu(0).
// Every corrupt or truncated file throws loom::DataError naming the file, the byte offset and
// what was expected there; sizes are checked against the bytes left before anything is allocated,
// so no input makes the reader allocate more than the file's size. Reentrant; arrays are created
// on cpu(0).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "loom/core/ndarray.h"

namespace loom::train {

/// Arrays by key; in .params files the keys are "arg:<variable>" and "aux:<variable>".
using NamedArrays = std::map<std::string, NDArray>;

/// @brief Reads a named NDArray list (a .params file).
/// @throws IoError when the file cannot be read; DataError naming the file and byte offset when it
/// is truncated or corrupt, or when its arrays carry no names.
NamedArrays LoadMXNetParams(const std::string& path);

/// @brief Writes `arrays` (in key order) as MXNet's named NDArray list, atomically
/// (WriteFileAtomic). None arrays are written as MXNet writes them (shape only). A file holding
/// an array of shape () or with a zero dimension, which MXNet 1.x only has in numpy-shape mode,
/// is written with numpy-shape records throughout (magic 0xF993FACA), as MXNet writes in that
/// mode: MXNet loads it inside `mx.util.np_shape(True)`; other files load in MXNet's default mode.
/// @throws IoError on write failure.
void SaveMXNetParams(const std::string& path, const NamedArrays& arrays);

/// An NDArray list as stored: the arrays in file order and their names (empty when the list was
/// saved without names, otherwise one per array).
struct MXNetArrayList {
  std::vector<NDArray> arrays;
  std::vector<std::string> names;
};

/// @brief Parses the bytes of an NDArray-list file; `name_for_errors` is the file name messages
/// use.
/// @throws DataError as LoadMXNetParams.
MXNetArrayList ParseMXNetArrayList(std::string_view bytes, const std::string& name_for_errors);

/// @brief The bytes of an NDArray-list file holding `list` (names empty or one per array).
/// @throws loom::Error when the name count does not match.
std::string SerializeMXNetArrayList(const MXNetArrayList& list);

}  // namespace loom::train
