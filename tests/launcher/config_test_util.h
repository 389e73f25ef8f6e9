// Helpers shared by the config_*_test.cc files.
#pragma once

#include <functional>
#include <string>

#include "loom/scheduler/error.h"

namespace loom::train::testing {

/// The what() of the ConfigError `f` throws, or "no error" (other exception types propagate).
inline std::string ConfigErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

/// tests/data/configs/<name>
inline std::string ConfigPath(const std::string& name) {
  return std::string(LOOM_TEST_DATA_DIR) + "/configs/" + name;
}

}  // namespace loom::train::testing
