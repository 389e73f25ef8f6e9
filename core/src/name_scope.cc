#include "loom/core/attr_scope.h"
#include "loom/core/name_manager.h"

namespace loom {

namespace {
thread_local NameManager* current_manager = nullptr;
thread_local const AttrScope* current_attr_scope = nullptr;
}  // namespace

std::string NameManager::Get(std::string_view name, std::string_view hint) {
  if (!name.empty()) return prefix_ + std::string(name);
  auto it = counters_.find(hint);
  if (it == counters_.end()) it = counters_.emplace(std::string(hint), 0).first;
  return prefix_ + std::string(hint) + std::to_string(it->second++);
}

NameManager& NameManager::Current() {
  thread_local NameManager default_manager;
  return current_manager ? *current_manager : default_manager;
}

NameScope::NameScope(std::string prefix) : manager_(std::move(prefix)), previous_(current_manager) {
  current_manager = &manager_;
}

NameScope::~NameScope() { current_manager = previous_; }

AttrScope::AttrScope(const StrMap& attrs)
    : attrs_(current_attr_scope ? current_attr_scope->attrs_ : StrMap{}),
      previous_(current_attr_scope) {
  for (const auto& [k, v] : attrs) attrs_[k] = v;
  current_attr_scope = this;
}

AttrScope::~AttrScope() { current_attr_scope = previous_; }

StrMap AttrScope::Current(const StrMap& explicit_attrs) {
  StrMap out = current_attr_scope ? current_attr_scope->attrs_ : StrMap{};
  for (const auto& [k, v] : explicit_attrs) out[k] = v;
  return out;
}

}  // namespace loom
