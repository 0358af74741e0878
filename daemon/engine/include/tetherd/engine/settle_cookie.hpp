#pragma once

// Settle cookies: files `tetherd settle` creates in a source root to learn when the
// watcher has delivered every event before them (watchman's cookie technique). Their names
// are reserved: such entries at a source root are never mirrored nor deleted.

#include <optional>
#include <string>
#include <string_view>

namespace tetherd::daemon {

inline constexpr std::string_view settle_cookie_prefix = ".tetherd-settle.";

/// Whether `relative_path` (relative to a source root) is a settle cookie.
inline bool is_settle_cookie(std::string_view relative_path) noexcept {
  return relative_path.starts_with(settle_cookie_prefix) &&
         relative_path.find('/') == std::string_view::npos;
}

/// Whether cookie `name` was left by a process that is gone (killed during a settle): the
/// process id in its name ("<prefix><pid>.<n>") is not this process's and no process has
/// it. Removing such a cookie harms nobody: a live daemon's cookie has done its work once
/// created (the watcher's event for it is queued by then).
bool is_stale_settle_cookie(std::string_view name);

}  // namespace tetherd::daemon
