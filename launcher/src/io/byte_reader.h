// Bounds-checked little-endian reading of binary files (MXNet .params, TFRecord): every read
// checks the bytes left first and throws loom::DataError naming the file, the byte offset and what
// was expected, so corrupt inputs never read out of bounds or size an allocation beyond the file.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "loom/scheduler/error.h"

namespace loom::train::detail {

static_assert(std::endian::native == std::endian::little,
              "the binary formats are little-endian and read by memcpy");

class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}

  size_t offset() const { return offset_; }
  size_t remaining() const { return bytes_.size() - offset_; }
  const std::string& name() const { return name_; }

  /// Reads a T; `what` names it in the error ("the array count").
  template <typename T>
  T Read(std::string_view what) {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, Take(sizeof(T), what).data(), sizeof(T));
    return value;
  }

  /// The next n bytes (a view into the input).
  std::string_view Take(uint64_t n, std::string_view what) {
    if (n > remaining()) {
      Fail(offset_, "truncated: expected ", n, " bytes (", what, ") but only ", remaining(),
           " remain");
    }
    std::string_view out = bytes_.substr(offset_, static_cast<size_t>(n));
    offset_ += static_cast<size_t>(n);
    return out;
  }

  /// Throws DataError "<name>: at byte <offset>: <message>".
  template <typename... Args>
  [[noreturn]] void Fail(size_t offset, const Args&... args) const {
    throw DataError(loom::detail::StrCat(name_, ": at byte ", offset, ": ", args...));
  }

 private:
  std::string_view bytes_;
  std::string name_;
  size_t offset_ = 0;
};

}  // namespace loom::train::detail
