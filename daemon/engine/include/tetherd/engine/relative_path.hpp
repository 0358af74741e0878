// Relative paths within a rule ("" is the rule's root, "a/b" a path below it).

#pragma once

#include <string_view>

namespace tetherd::daemon {

/// True if `path` is `ancestor` or lies beneath it; everything lies within the root "".
constexpr bool is_within(std::string_view path, std::string_view ancestor) noexcept {
  if (ancestor.empty()) return true;
  return path.starts_with(ancestor) &&
         (path.size() == ancestor.size() || path[ancestor.size()] == '/');
}

}  // namespace tetherd::daemon
