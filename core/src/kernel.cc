#include "loom/core/kernel.h"

#include <array>

namespace loom {

const char* ToString(OpReq req) {
  static constexpr std::array<const char*, static_cast<size_t>(OpReq::kCount)> kNames = {
      "null", "write", "inplace", "add"};
  static_assert(static_cast<int>(OpReq::kCount) == 4, "update kNames");
  return kNames.at(static_cast<size_t>(req));
}

}  // namespace loom
