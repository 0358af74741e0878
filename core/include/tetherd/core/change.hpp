#pragma once

// The Change model: what a watcher reports to the engine.
//
// Contract: a change is a HINT to look at a path again, not a statement of what happened.
// Kernel notifications are lossy (queue overflow), reordered across directories and racy
// (a file may be created and deleted before anyone looks), so the engine re-stats every
// path it is told about and acts on what it finds. Duplicates are harmless; a missing hint
// is not, which is why watchers report `rescan` whenever they may have lost something.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tetherd::core {

enum class ChangeKind {
  created,    ///< `path` appeared (file or directory; for a directory look at its contents too)
  modified,   ///< the contents of `path` changed (a write, or the close after writes)
  attrib,     ///< metadata of `path` changed (mode, owner, times, link count, xattrs)
  removed,    ///< `path` disappeared (deleted, or moved out of the watched tree)
  moved,      ///< `path` was renamed to `to_path`, both inside the watched tree
  rescan,     ///< events under `path` may have been lost: re-list the whole subtree
  root_gone,  ///< the watched root was deleted, moved or unmounted; `reason` says which.
              ///< Never a reason to delete anything on a target: pause instead.
};

/// The lower-case name of a kind ("created", "moved", "root_gone", ...).
std::string_view to_string(ChangeKind kind) noexcept;

struct Change {
  ChangeKind kind = ChangeKind::modified;
  /// Relative to the watched root, components separated by '/', raw bytes exactly as the
  /// filesystem has them (not necessarily UTF-8). "" is the root itself. For `moved` this
  /// is the old path.
  std::string path;
  /// `moved` only: the new path (same form as `path`).
  std::string to_path;
  /// Whether the entry is (or was) a directory, as far as the kernel said.
  bool is_dir = false;
  /// inotify's rename cookie when the change came from a rename pair or half.
  std::optional<std::uint32_t> cookie;
  /// `rescan` and `root_gone` only: why ("overflow", "deleted", "moved", "unmounted", ...).
  std::string reason;
  /// A writer may still have the file open: for `modified`, it changed the file and has
  /// not closed it (inotify's IN_MODIFY; a `modified` without it follows at the close,
  /// IN_CLOSE_WRITE); for `created`, the file was made by a call that usually opens it for
  /// writing (IN_CREATE of a file). Watchers that cannot tell (polling) leave it false.
  bool still_open = false;
  /// `rescan` only: the watcher's event queue overflowed (every change since may be lost),
  /// rather than one part of the tree needing a new look. Control flow asks this, never
  /// `reason`, which is for people.
  bool queue_overflow = false;

  static Change created(std::string path, bool is_dir, bool still_open = false) {
    return Change{ChangeKind::created, std::move(path), {}, is_dir, std::nullopt, {}, still_open};
  }
  static Change modified(std::string path, bool still_open = false) {
    return Change{ChangeKind::modified, std::move(path), {}, false, std::nullopt, {}, still_open};
  }
  static Change attrib(std::string path, bool is_dir) {
    return Change{ChangeKind::attrib, std::move(path), {}, is_dir, std::nullopt, {}};
  }
  static Change removed(std::string path, bool is_dir) {
    return Change{ChangeKind::removed, std::move(path), {}, is_dir, std::nullopt, {}};
  }
  static Change moved(std::string from, std::string to, bool is_dir,
                      std::optional<std::uint32_t> cookie = std::nullopt) {
    return Change{ChangeKind::moved, std::move(from), std::move(to), is_dir, cookie, {}};
  }
  static Change rescan(std::string subtree, std::string reason) {
    return Change{ChangeKind::rescan, std::move(subtree), {}, true,
                  std::nullopt,       std::move(reason)};
  }
  /// The event queue overflowed: the whole tree is looked at again.
  static Change overflow() {
    Change change = rescan("", "overflow");
    change.queue_overflow = true;
    return change;
  }
  static Change root_gone(std::string reason) {
    return Change{ChangeKind::root_gone, {}, {}, true, std::nullopt, std::move(reason)};
  }

  friend bool operator==(const Change&, const Change&) = default;
};

/// Joins a relative directory path and a name: join_relative("", "a") == "a",
/// join_relative("a/b", "c") == "a/b/c".
std::string join_relative(std::string_view directory, std::string_view name);

}  // namespace tetherd::core
