// Where data lives and work runs: a device type and an id.
//
//   loom::Context a = loom::Context::CPU(1);     // "cpu(1)": its own worker pool
//   loom::Context g = loom::Context::GPU(0);     // "gpu(0)": compute streams and a copy stream
//   loom::Context p = loom::Context::Parse("gpu(1)");
//   if (a != g) { ... }
//
// cpu(0), cpu(1), ... are distinct devices with separate worker pools, so model parallelism and
// multi-device aggregation are testable on a CPU-only machine. Context is a value type.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace loom {

/// The kinds of device. kCount keeps the name table in step.
enum class DeviceType : uint8_t { kCPU = 0, kGPU = 1, kCPUPinned = 2, kCount };

/// "cpu", "gpu" or "cpu_pinned".
const char* ToString(DeviceType type);

/// A device: type and id. Value type; thread-safe to copy.
struct Context {
  DeviceType type = DeviceType::kCPU;
  int id = 0;

  static constexpr Context CPU(int id = 0) { return {DeviceType::kCPU, id}; }
  static constexpr Context GPU(int id = 0) { return {DeviceType::kGPU, id}; }
  static constexpr Context CPUPinned(int id = 0) { return {DeviceType::kCPUPinned, id}; }

  /// Parses "cpu(0)", "gpu(1)", "cpu_pinned(0)", "cpu" or "gpu" (id 0); throws loom::Error
  /// naming the text otherwise.
  static Context Parse(std::string_view text);

  /// True for cpu and cpu_pinned: memory the host can read directly.
  constexpr bool is_host() const { return type != DeviceType::kGPU; }
  /// "cpu(0)".
  std::string ToString() const;

  friend constexpr bool operator==(const Context&, const Context&) = default;
  friend constexpr auto operator<=>(const Context&, const Context&) = default;
};

}  // namespace loom

template <>
struct std::hash<loom::Context> {
  size_t operator()(const loom::Context& c) const noexcept {
    return std::hash<int>()(static_cast<int>(c.type) * 65536 + c.id);
  }
};
