// MXNet's NDArray-list file format (MXNet 1.9.1, src/ndarray/ndarray.cc's Save/Load, as described
// in docs/file-formats.md). All integers little-endian:
//   uint64 0x112, uint64 reserved, uint64 count, count array records, uint64 name count, names
//   (uint64 length + bytes each).
// Array records:
//   V2 (0xF993FAC9) / V3 (0xF993FACA, numpy shape semantics): uint32 magic, int32 storage type,
//     int32 ndim, int64 dims[ndim], int32 dev_type, int32 dev_id, int32 type code, data.
//     V2 ndim 0 and V3 ndim -1 are a none array: the record ends after the shape.
//   V1 (0xF993FAC8): uint32 magic, uint32 ndim, int64 dims, then as V2 (no storage type).
//   legacy (no magic): uint32 ndim, uint32 dims[ndim], then as V1.
#include "loom/train/mxnet_params.h"

#include <cstdio>

#include "array_bytes.h"
#include "byte_reader.h"
#include "loom/scheduler/error.h"
#include "loom/train/atomic_file.h"

namespace loom::train {
namespace {

constexpr uint64_t kListMagic = 0x112;
constexpr uint32_t kArrayV1Magic = 0xF993FAC8;
constexpr uint32_t kArrayV2Magic = 0xF993FAC9;
constexpr uint32_t kArrayV3Magic = 0xF993FACA;
constexpr int32_t kDefaultStorage = 0;
constexpr int32_t kCpuDevType = 1;

// MXNet's storage types and type codes Loom has no arrays for, for messages.
const char* StorageName(int32_t stype) {
  switch (stype) {
    case 1:
      return "row_sparse";
    case 2:
      return "csr";
    default:
      return nullptr;
  }
}
const char* ExtraTypeName(int32_t code) {
  switch (code) {
    case 8:
      return "int16";
    case 9:
      return "uint16";
    case 10:
      return "uint32";
    case 11:
      return "uint64";
    case 12:
      return "bfloat16";
    default:
      return nullptr;
  }
}

std::string Hex(uint64_t v) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "0x%llX", static_cast<unsigned long long>(v));
  return buffer;
}

// Reads the shape of array `index`; false for a none array.
bool ReadShape(detail::ByteReader& in, uint32_t magic, size_t index, Shape* shape) {
  // Legacy records start with the number of dimensions, already read as `magic`.
  const bool legacy = magic != kArrayV1Magic && magic != kArrayV2Magic && magic != kArrayV3Magic;
  const size_t at = legacy ? in.offset() - sizeof(uint32_t) : in.offset();
  int64_t ndim;
  if (magic == kArrayV1Magic || magic == kArrayV2Magic || magic == kArrayV3Magic) {
    ndim = in.Read<int32_t>("the number of dimensions");
  } else {
    ndim = magic;
  }
  if (magic == kArrayV3Magic ? ndim == -1 : ndim == 0) return false;
  const uint64_t dim_bytes = legacy ? 4 : 8;
  // Checked against the bytes left first, so a corrupt count allocates nothing.
  if (ndim < 0 || static_cast<uint64_t>(ndim) > in.remaining() / dim_bytes) {
    in.Fail(at, "array ", index, ": expected a number of dimensions (at most ",
            in.remaining() / dim_bytes,
            ", the dimensions that fit in the rest of the file) but got ", ndim,
            legacy ? " (a legacy record without magic; is this an NDArray file?)" : "");
  }
  std::vector<int64_t> dims(static_cast<size_t>(ndim));
  for (int64_t& d : dims) {
    const size_t dim_at = in.offset();
    d = legacy ? static_cast<int64_t>(in.Read<uint32_t>("a dimension"))
               : in.Read<int64_t>("a dimension");
    if (d < 0) in.Fail(dim_at, "array ", index, ": expected a dimension >= 0 but got ", d);
  }
  *shape = Shape(std::move(dims));
  return true;
}

NDArray ReadArray(detail::ByteReader& in, size_t index) {
  const size_t start = in.offset();
  const uint32_t magic = in.Read<uint32_t>("an array record's magic");
  if (magic == kArrayV2Magic || magic == kArrayV3Magic) {
    const size_t at = in.offset();
    const int32_t stype = in.Read<int32_t>("the storage type");
    if (stype != kDefaultStorage) {
      if (const char* name = StorageName(stype)) {
        throw NotSupportedError(loom::detail::StrCat(
            in.name(), ": at byte ", at, ": array ", index, " has storage type ", name,
            "; Loom reads dense arrays only (save it with .tostype('default') in MXNet)"));
      }
      in.Fail(at, "array ", index, ": expected storage type 0 (dense) but got ", stype);
    }
  }
  Shape shape;
  if (!ReadShape(in, magic, index, &shape)) return NDArray();
  const size_t ctx_at = in.offset();
  const int32_t dev_type = in.Read<int32_t>("the device type");
  in.Read<int32_t>("the device id");
  // 1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared; anything else means the bytes are not a record.
  if (dev_type != 1 && dev_type != 2 && dev_type != 3 && dev_type != 5) {
    in.Fail(ctx_at, "array ", index, " (record at byte ", start,
            "): expected a device type (1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared) but got ",
            dev_type);
  }
  const size_t type_at = in.offset();
  const int32_t code = in.Read<int32_t>("the type code");
  if (code < 0 || code >= static_cast<int32_t>(DType::kCount)) {
    if (const char* name = ExtraTypeName(code)) {
      throw NotSupportedError(loom::detail::StrCat(in.name(), ": at byte ", type_at, ": array ",
                                                   index, " has dtype ", name,
                                                   ", which Loom has no arrays for"));
    }
    in.Fail(type_at, "array ", index, ": expected a type code 0..7 but got ", code);
  }
  const DType dtype = DTypeFromCode(code);
  const std::optional<int64_t> count = detail::CheckedElementCount(shape.dims());
  if (!count) {
    in.Fail(type_at, "array ", index,
            ": expected a shape whose element count fits in int64 but got ", shape.ToString());
  }
  const uint64_t element = DTypeSize(dtype);
  if (static_cast<uint64_t>(*count) > in.remaining() / element) {
    in.Fail(in.offset(), "truncated: array ", index, " of shape ", shape.ToString(), " and dtype ",
            ToString(dtype), " needs ", *count, " elements of ", element, " bytes, more than the ",
            in.remaining(), " bytes left");
  }
  const uint64_t bytes = static_cast<uint64_t>(*count) * element;
  const std::string what = "the data of array " + std::to_string(index) + ", shape " +
                           shape.ToString() + ", " + ToString(dtype);
  return detail::ArrayFromBytes(shape, dtype, in.Take(bytes, what));
}

void Append(std::string& out, const void* data, size_t n) {
  out.append(static_cast<const char*>(data), n);
}
template <typename T>
void Append(std::string& out, T value) {
  Append(out, &value, sizeof(T));
}

}  // namespace

MXNetArrayList ParseMXNetArrayList(std::string_view bytes, const std::string& name_for_errors) {
  detail::ByteReader in(bytes, name_for_errors);
  const uint64_t magic = in.Read<uint64_t>("the NDArray list magic 0x112");
  if (magic != kListMagic) {
    in.Fail(0,
            "expected the NDArray list magic 0x112 (an MXNet .params / mx.nd.save file) but got ",
            Hex(magic));
  }
  in.Read<uint64_t>("the reserved field");
  const size_t count_at = in.offset();
  const uint64_t count = in.Read<uint64_t>("the array count");
  // Every record has at least 4 bytes, so a larger count cannot be right.
  if (count > in.remaining() / 4) {
    in.Fail(count_at, "expected an array count of at most ", in.remaining() / 4,
            " (what the rest of the file can hold) but got ", count);
  }
  MXNetArrayList list;
  list.arrays.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) list.arrays.push_back(ReadArray(in, static_cast<size_t>(i)));
  const size_t names_at = in.offset();
  const uint64_t name_count = in.Read<uint64_t>("the name count");
  if (name_count != 0 && name_count != count) {
    in.Fail(names_at, "expected ", count, " names (one per array) or none but got ", name_count);
  }
  list.names.reserve(static_cast<size_t>(name_count));
  for (uint64_t i = 0; i < name_count; ++i) {
    const uint64_t length = in.Read<uint64_t>("a name's length");
    list.names.emplace_back(in.Take(length, "name " + std::to_string(i)));
  }
  if (in.remaining() != 0) {
    in.Fail(in.offset(), "expected the end of the file after the names but ", in.remaining(),
            " more bytes follow");
  }
  return list;
}

std::string SerializeMXNetArrayList(const MXNetArrayList& list) {
  LOOM_CHECK(list.names.empty() || list.names.size() == list.arrays.size(),
             "expected no names or one per array (", list.arrays.size(), ") but got ",
             list.names.size());
  std::string out;
  Append(out, kListMagic);
  Append(out, uint64_t{0});
  Append(out, static_cast<uint64_t>(list.arrays.size()));
  // MXNet 1.x reads shape () and zero dimensions as "unknown": a file holding such arrays is
  // written as MXNet writes in numpy-shape mode (V3 records throughout, none arrays with ndim -1),
  // which MXNet loads under mx.util.np_shape(True); it refuses V2 and V3 records mixed in one file.
  bool numpy_shape = false;
  for (const NDArray& a : list.arrays) {
    numpy_shape = numpy_shape || (!a.is_none() && a.shape().ndim() == 0);
    for (int64_t d : a.shape()) numpy_shape = numpy_shape || d == 0;
  }
  for (const NDArray& a : list.arrays) {
    Append(out, numpy_shape ? kArrayV3Magic : kArrayV2Magic);
    Append(out, kDefaultStorage);
    if (a.is_none()) {
      Append(out, numpy_shape ? int32_t{-1} : int32_t{0});  // MXNet's none array
      continue;
    }
    Append(out, static_cast<int32_t>(a.shape().ndim()));
    for (int64_t d : a.shape()) Append(out, d);
    Append(out, kCpuDevType);
    Append(out, int32_t{0});
    Append(out, static_cast<int32_t>(a.dtype()));
    out += detail::ArrayBytes(a);
  }
  Append(out, static_cast<uint64_t>(list.names.size()));
  for (const std::string& name : list.names) {
    Append(out, static_cast<uint64_t>(name.size()));
    out += name;
  }
  return out;
}

NamedArrays LoadMXNetParams(const std::string& path) {
  MXNetArrayList list = ParseMXNetArrayList(ReadFile(path), path);
  if (list.names.empty() && !list.arrays.empty()) {
    throw DataError(path + ": expected named arrays (\"arg:<name>\" / \"aux:<name>\") but the " +
                    std::to_string(list.arrays.size()) +
                    " arrays have no names (saved from a list, not a dict)");
  }
  NamedArrays out;
  for (size_t i = 0; i < list.arrays.size(); ++i) {
    if (!out.emplace(list.names[i], std::move(list.arrays[i])).second) {
      throw DataError(path + ": expected unique names but \"" + list.names[i] + "\" appears twice");
    }
  }
  return out;
}

void SaveMXNetParams(const std::string& path, const NamedArrays& arrays) {
  MXNetArrayList list;
  for (const auto& [name, array] : arrays) {
    list.names.push_back(name);
    list.arrays.push_back(array);
  }
  WriteFileAtomic(path, SerializeMXNetArrayList(list));
}

}  // namespace loom::train
