#pragma once

// The Watcher interface: turns filesystem notifications for ONE source root into batches of
// core::Change for the engine.
//
// Threading: a watcher belongs to one libuv loop. start(), stop() and every accessor must be
// called on that loop's thread, and every callback (on_changes, on_error) runs on it. No
// callback runs before start() returns or after stop() returns.
//
// Ownership: the caller owns the watcher (std::unique_ptr). The libuv handles a watcher
// opens are closed by stop() (also called by the destructor) and free themselves in their
// close callbacks, so the loop must run once more after stop() before uv_loop_close().
// A callback may call stop() on its own watcher but must not destroy it.
//
// Contract: every change made under the root after start() returns is reported (possibly
// only as part of a `rescan`), directories rejected by `watch_directory` are neither watched
// nor scanned, and losing events is reported as `rescan`, never silent.

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "tetherd/core/change.hpp"

namespace tetherd::watchers {

/// A problem the user must hear about. The watcher keeps running after reporting it unless
/// the change stream says otherwise (root_gone).
struct WatcherError {
  std::error_code code;  ///< the errno behind it (system_category), never lost
  std::string path;      ///< relative to the root ("" = the root)
  std::string message;   ///< a complete sentence for the user, naming what to do
};

/// "Watch (and descend into) this directory?" for a directory path relative to the root
/// ("" = the root, always watched). Must be cheap and must not throw.
using DirectoryFilter = std::function<bool(std::string_view relative_dir)>;
using ChangesCallback = std::function<void(std::vector<core::Change>&& batch)>;
using ErrorCallback = std::function<void(const WatcherError& error)>;

struct WatcherOptions {
  std::string root;                 ///< the directory to watch (as bytes, as given)
  DirectoryFilter watch_directory;  ///< empty: watch every directory
  ChangesCallback on_changes;       ///< required
  ErrorCallback on_error;           ///< optional; errors are otherwise dropped
  /// poll watcher: time between two stat walks; inotify: the interval of the polling
  /// fallback for subtrees the watch limit leaves uncovered.
  std::chrono::milliseconds poll_interval{1000};
  /// inotify: how long a MOVED_FROM waits for its MOVED_TO before it counts as a removal.
  std::chrono::milliseconds rename_timeout{20};
  /// inotify: directories watched and listed per loop turn in a big walk (a tree moved in,
  /// the re-walk after an overflow); other work runs between two slices.
  std::size_t walk_slice = 256;
};

class Watcher {
 public:
  virtual ~Watcher() = default;
  Watcher() = default;
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  /// Sets up watching of the whole tree (synchronously: when it returns, changes are being
  /// recorded). Returns an error if the root cannot be watched at all (missing, not a
  /// directory, no inotify instance left); problems below the root go to on_error.
  virtual std::optional<WatcherError> start() = 0;
  /// Stops watching and closes every handle. Idempotent.
  virtual void stop() = 0;
  /// How many directories are being watched right now (inotify watches plus polled ones).
  virtual std::size_t watched_directory_count() const = 0;
  /// Whether the watcher holds the first half of a rename it has not paired yet (it will be
  /// reported as a removal when rename_timeout passes). An entry that just appeared may be
  /// its other half, seen by listing a directory that was not watched yet.
  virtual bool holds_unpaired_renames() const { return false; }
  /// Calls `done` on the loop thread once every change made before the call has been
  /// delivered to on_changes, where that takes more than the kernel's queue: a polled tree
  /// (or subtree) is walked again from now. Events the kernel queues in order are left to
  /// the caller's own marker (the settle cookie), so a watcher that polls nothing may call
  /// `done` at once, even before returning. A stopped watcher calls it at once too.
  virtual void sync(std::function<void()> done) { done(); }
};

enum class WatcherKind {
  inotify,  ///< Linux inotify, recursive (falls back to polling for subtrees over the limit)
  poll,     ///< periodic stat walk: any filesystem (NFS, FUSE, ...), higher latency
};

std::string_view to_string(WatcherKind kind) noexcept;

/// Creates a watcher of the given kind on `loop`; start() it to begin.
std::unique_ptr<Watcher> make_watcher(WatcherKind kind, uv_loop_t* loop, WatcherOptions options);

}  // namespace tetherd::watchers
