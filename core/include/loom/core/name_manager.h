// Automatic operator names, as MXNet's NameManager and Prefix give them.
//
//   loom::NameManager::Current().Get("", "fullyconnected");   // "fullyconnected0", then ...1
//   {
//     loom::Prefix prefix("layer1_");                           // fresh counters, with a prefix
//     loom::NameManager::Current().Get("fc", "fullyconnected"); // "layer1_fc"
//   }
//
// An unnamed operator gets `<hint><counter>` (hint: the lowercased operator name used), counted per
// hint and per manager. Each thread has its own current manager (a default one, replaced while a
// NameScope or Prefix lives on that thread). Variables are never named by the manager.
// NameScope and Prefix must be destroyed on the thread that created them, innermost first.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace loom {

/// Hands out names: the given one (with the prefix), or `<prefix><hint><counter>`.
class NameManager {
 public:
  explicit NameManager(std::string prefix = "") : prefix_(std::move(prefix)) {}

  /// `prefix + name` when name is non-empty; otherwise `prefix + hint + counter[hint]++`.
  std::string Get(std::string_view name, std::string_view hint);
  const std::string& prefix() const { return prefix_; }

  /// This thread's current manager.
  static NameManager& Current();

 private:
  std::string prefix_;
  std::map<std::string, int, std::less<>> counters_;
};

/// Makes a fresh NameManager (new counters) current on this thread for the scope's lifetime.
class NameScope {
 public:
  explicit NameScope(std::string prefix = "");
  ~NameScope();
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;

 private:
  NameManager manager_;
  NameManager* previous_;
};

/// A NameScope whose names all start with `prefix` (MXNet's mx.name.Prefix).
class Prefix : public NameScope {
 public:
  explicit Prefix(std::string prefix) : NameScope(std::move(prefix)) {}
};

}  // namespace loom
