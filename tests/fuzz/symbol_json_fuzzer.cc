// Fuzzes the symbol file loader: any input must either load or throw loom::Error (never crash,
// leak or hang), and whatever loads must save, reload and save again to the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "loom/core/symbol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  loom::Symbol symbol;
  try {
    symbol = loom::Symbol::FromJSON(text, "fuzz.json");
  } catch (const loom::Error&) {
    return 0;
  }
  std::string saved = symbol.ToJSON();
  symbol.ListArguments();
  symbol.ListOutputs();
  symbol.ListAuxiliaryStates();
  symbol.AttrDict();
  if (loom::Symbol::FromJSON(saved, "resaved.json").ToJSON() != saved) __builtin_trap();
  return 0;
}
