// Fuzzes the MXNet NDArray-list (.params) reader: any input must parse or throw loom::Error (never
// crash, leak, hang or allocate beyond the input's size), and whatever parses must serialize,
// parse and serialize again to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "loom/scheduler/error.h"
#include "loom/train/mxnet_params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  loom::train::MXNetArrayList list;
  try {
    list = loom::train::ParseMXNetArrayList(bytes, "fuzz.params");
  } catch (const loom::Error&) {
    return 0;
  }
  const std::string saved = loom::train::SerializeMXNetArrayList(list);
  const loom::train::MXNetArrayList again = loom::train::ParseMXNetArrayList(saved, "saved.params");
  if (loom::train::SerializeMXNetArrayList(again) != saved) __builtin_trap();
  return 0;
}
