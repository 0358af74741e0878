#pragma once

// inotify_watcher: recursive Linux watcher on its own inotify fd (IN_NONBLOCK|IN_CLOEXEC),
// read on a uv_poll_t (libuv's uv_fs_event is not recursive, reads 4 KiB at a time and drops
// IN_Q_OVERFLOW). The cases this handles, in short:
//
// - one watch per directory the filter admits; a new or moved-in directory is watched FIRST
//   and then listed, and everything found is reported as created (duplicates are fine,
//   losses are not);
// - renames are paired by cookie across reads; a MOVED_FROM unpaired after rename_timeout is
//   a removal, an unpaired MOVED_TO a creation;
// - the watched directories form a tree of nodes (wd -> node, parent links, name -> child),
//   so a directory rename re-keys its whole subtree in O(1) and paths are derived on demand;
// - IN_Q_OVERFLOW -> Change::overflow() (a rescan of everything) plus a re-walk that re-establishes
// watches;
//   an unknown wd -> rescan of its nearest known ancestor, which for a wd never seen is the
//   root; IN_IGNORED frees the node (the map shrinks back);
// - root deleted / moved / unmounted -> root_gone(reason), then the watcher stops itself;
// - ENOSPC from inotify_add_watch -> an error naming fs.inotify.max_user_watches, its value
//   and the number of directories the tree needs; the uncovered subtree is polled.
//
// Listing a new directory runs on the loop thread, right after its watch is added: the watch
// map must be updated before the next event is read, and the common case is a handful of
// entries. A big walk (a large tree moved in, the re-walk after an overflow) runs in slices
// of `walk_slice` directories, the loop handling other work between them: sync() waits for
// the walk to end, and the overflow is reported only once the re-walk is over, so the
// rescan it asks for starts when every directory is watched again.

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include "tetherd/watchers/inotify_api.hpp"
#include "tetherd/watchers/poll_watcher.hpp"
#include "tetherd/watchers/watcher.hpp"

namespace tetherd::watchers {

/// The inotify event mask every watch uses.
std::uint32_t inotify_watch_mask() noexcept;

class InotifyWatcher final : public Watcher {
 public:
  InotifyWatcher(uv_loop_t* loop, WatcherOptions options,
                 std::shared_ptr<InotifyApi> api = system_inotify_api());
  ~InotifyWatcher() override;

  std::optional<WatcherError> start() override;
  void stop() override;
  /// inotify watches plus the directories the polling fallback covers.
  std::size_t watched_directory_count() const override;
  bool holds_unpaired_renames() const override { return !pending_moves_.empty(); }
  /// Syncs every poller of the subtrees over the watch limit; nothing to wait for otherwise.
  void sync(std::function<void()> done) override;

  /// Watch descriptors currently known (live or awaiting their IN_IGNORED).
  std::size_t inotify_watch_count() const { return nodes_.size(); }
  /// Relative roots of the subtrees polled because the watch limit was reached.
  std::vector<std::string> polled_subtrees() const;

  /// The read buffer size: a whole default queue (16384 events) of short names fits.
  static constexpr std::size_t read_buffer_size = 256 * 1024;

 private:
  struct Node {
    int wd = -1;
    Node* parent = nullptr;  // null for the root and for detached nodes
    std::string name;
    std::map<std::string, Node*, std::less<>> children;
    bool detached = false;  // no longer part of the tree; waiting for IN_IGNORED
    std::uint64_t seen_in_walk = 0;
  };
  struct PendingMove {
    std::uint32_t cookie = 0;
    std::string from;
    bool is_dir = false;
    int wd = -1;  // the moved directory's watch, if it had one
    std::uint64_t deadline_ms = 0;
  };
  /// A directory its parent reported that could not be watched or listed at the path the
  /// parent had then (retry_lost_paths).
  struct LostPath {
    int parent_wd = -1;
    std::string name;
    std::string parent_path_then;
    bool report_contents = false;
    std::uint64_t deadline_ms = 0;
  };
  /// A directory the walk will watch and list. Its parent is named by watch descriptor: a
  /// node may be forgotten between two slices.
  struct WalkItem {
    int parent_wd = -1;  ///< -1: the root itself
    std::string name;
    std::string relative;
    bool report_contents = false;
    int known_wd = -1;  ///< watched already (the root at start)
  };

  static void on_readable(uv_poll_t* handle, int status, int events) noexcept;
  static void on_rename_timer(uv_timer_t* timer) noexcept;
  static void on_flush_timer(uv_timer_t* timer) noexcept;

  /// Reads and handles what is queued; true when the queue was seen empty at the end.
  bool read_events();
  void note_lost_path(const Node& parent, std::string name, bool report_contents);
  void retry_lost_paths();
  void handle_event(int wd, std::uint32_t mask, std::uint32_t cookie, std::string_view name);
  void handle_root_event(std::uint32_t mask);
  void complete_move(const PendingMove& move, Node* new_parent, std::string_view name,
                     const std::string& relative);
  void expire_moves(bool all);
  void arm_rename_timer();

  /// Queues `relative` (child `name` of `parent`; the root when parent is null) and every
  /// directory below it that the filter admits for watching, and walks a slice at once.
  void watch_tree(Node* parent, std::string name, std::string relative, bool report_contents,
                  int known_wd = -1);
  /// Walks up to `limit` queued directories; the rest waits for the walk idle handle.
  void walk_slice(std::size_t limit);
  void walk_one(WalkItem item);
  /// The queue is empty: the sweep and overflow report of a re-walk, then sync waiters.
  void walk_finished();
  static void on_walk_idle(uv_idle_t* handle) noexcept;
  void resync_after_overflow();
  void add_watch_failed(const std::string& relative, int error, bool report_contents);
  void report_watch_limit(const std::string& relative);
  void start_polling(const std::string& relative, bool report_contents);
  void retire_pollers_under(std::string_view relative);

  Node* find_node(int wd) const;
  Node* child_of(Node* parent, std::string_view name) const;
  std::string relative_path(const Node* node) const;
  std::string full_path(std::string_view relative) const;
  bool admits(std::string_view relative_dir) const;
  void attach(Node* node, Node* parent, std::string name);
  void detach(Node* node);
  void detach_subtree(Node* node);
  void unwatch_subtree(Node* node);
  void forget(Node* node);

  void emit(core::Change change);
  void report(WatcherError error);
  void flush();
  void shut_down(std::string reason);
  void tear_down();

  uv_loop_t* loop_;
  WatcherOptions options_;
  std::shared_ptr<InotifyApi> api_;
  std::string root_;  // options_.root without trailing slashes
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* rename_timer_ = nullptr;
  uv_timer_t* flush_timer_ = nullptr;
  uv_idle_t* walk_idle_ = nullptr;
  std::unique_ptr<std::byte[]> buffer_;
  std::unordered_map<int, std::unique_ptr<Node>> nodes_;
  Node* root_node_ = nullptr;
  std::vector<PendingMove> pending_moves_;
  std::vector<LostPath> lost_paths_;
  std::vector<core::Change> batch_;
  std::vector<WatcherError> errors_;
  std::map<std::string, std::unique_ptr<PollWatcher>> pollers_;
  std::vector<std::unique_ptr<PollWatcher>> retired_pollers_;
  std::uint64_t walk_generation_ = 0;
  std::deque<WalkItem> walk_queue_;
  bool walking_ = false;                             // walk_slice is on the stack
  bool resync_pending_ = false;                      // a re-walk after an overflow is under way
  std::vector<std::function<void()>> walk_waiters_;  // sync() calls waiting for the walk
  bool running_ = false;
  bool stopped_by_owner_ = false;  // stop() was called: nothing may be delivered any more
  bool limit_reported_ = false;
  /// Work on the thread pool finds the watcher through this; expired once it is destroyed.
  std::shared_ptr<InotifyWatcher*> self_token_ = std::make_shared<InotifyWatcher*>(this);
};

}  // namespace tetherd::watchers
