#pragma once

// poll_watcher: a portable watcher that compares stat snapshots of the tree every
// `poll_interval`. For filesystems without change notification (NFS, FUSE, SMB), and for
// subtrees the inotify watch limit leaves uncovered.
//
// The first snapshot is taken synchronously in start() (so changes after start() returns
// are reported); every later walk runs on the libuv threadpool (uv_queue_work) and its
// comparison with the previous snapshot runs on the loop thread. A walk that is still
// running when the timer fires again makes the tick a no-op (walks never overlap).
//
// Reports created / removed / modified (size or mtime changed) / attrib (only ctime, mode
// or link count changed); a file replaced by another inode is removed + created. A change
// that is undone between two walks is not seen, which is fine for a hint stream: the
// result is the same state. The filter (watch_directory) is called on threadpool threads
// and must therefore be safe to call concurrently (a pure function).

#include <map>

#include "tetherd/watchers/watcher.hpp"

namespace tetherd::watchers {

/// What a poll walk records of one entry.
struct PollEntry {
  std::uint64_t inode = 0;
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t links = 0;
  bool is_dir() const;
};

class PollWatcher final : public Watcher {
 public:
  PollWatcher(uv_loop_t* loop, WatcherOptions options);
  ~PollWatcher() override;

  std::optional<WatcherError> start() override;
  void stop() override;
  std::size_t watched_directory_count() const override;
  /// Walks again now (after the walk in flight, which may have passed a change already).
  void sync(std::function<void()> done) override;

  /// What the last walk found, by path relative to the root.
  const std::map<std::string, PollEntry>& snapshot() const { return snapshot_; }
  /// How many walks have completed (the synchronous first one included).
  std::uint64_t completed_walks() const { return completed_walks_; }

  struct Walk;  // one stat walk (private; public only for the threadpool trampolines)

 private:
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_walk_done(uv_work_t* request, int status) noexcept;
  void begin_walk();
  void finish_walk(Walk& walk);
  void report_errors(Walk& walk);

  uv_loop_t* loop_;
  WatcherOptions options_;
  uv_timer_t* timer_ = nullptr;
  Walk* walk_in_flight_ = nullptr;
  std::map<std::string, PollEntry> snapshot_;
  std::uint64_t root_inode_ = 0;
  std::uint64_t root_device_ = 0;
  std::uint64_t completed_walks_ = 0;
  std::map<std::string, int> reported_errors_;
  bool stopped_ = false;
  /// Walks begun so far; a walk knows its number (Walk::number).
  std::uint64_t walks_begun_ = 0;
  /// sync() callers, each with the first walk whose report answers it.
  std::vector<std::pair<std::uint64_t, std::function<void()>>> sync_waiters_;
  void answer_sync_waiters(std::uint64_t walk_number);
};

}  // namespace tetherd::watchers
