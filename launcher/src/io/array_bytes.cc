#include "array_bytes.h"

#include <cstring>

#include "loom/scheduler/error.h"

namespace loom::train::detail {

std::optional<int64_t> CheckedElementCount(std::span<const int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (__builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

std::string ArrayBytes(const NDArray& a) {
  LOOM_INTERNAL_ASSERT(!a.is_none());
  const NDArray host = a.ctx().is_host() ? a : a.CopyTo(Context::CPU());
  host.WaitToRead();
  std::string out(host.nbytes(), '\0');
  if (!out.empty()) std::memcpy(out.data(), host.data(), out.size());
  return out;
}

NDArray ArrayFromBytes(const Shape& shape, DType dtype, std::string_view bytes) {
  NDArray out = NDArray::Empty(shape, Context::CPU(), dtype);
  LOOM_INTERNAL_ASSERT(bytes.size() == out.nbytes());
  // Nothing can be pending on an array created just now: copy right away.
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace loom::train::detail
