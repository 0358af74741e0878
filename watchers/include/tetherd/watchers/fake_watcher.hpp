#pragma once

// A Watcher whose changes are pushed by hand, for engine tests. It honours the interface's
// threading contract: push() and fail() may be called from the loop thread at any time,
// and delivery happens from the loop (on its next iteration), never inside push().

#include <deque>

#include "tetherd/watchers/watcher.hpp"

namespace tetherd::watchers {

class FakeWatcher final : public Watcher {
 public:
  FakeWatcher(uv_loop_t* loop, WatcherOptions options);
  ~FakeWatcher() override;

  std::optional<WatcherError> start() override;
  void stop() override;
  std::size_t watched_directory_count() const override { return watched_directories_; }

  /// Queues a batch for delivery through on_changes on the next loop iteration.
  void push(std::vector<core::Change> batch);
  /// Queues an error for delivery through on_error on the next loop iteration.
  void fail(WatcherError error);
  /// Makes the next start() fail with `error`.
  void fail_next_start(WatcherError error) { start_error_ = std::move(error); }
  void set_watched_directory_count(std::size_t count) { watched_directories_ = count; }

  bool started() const { return timer_ != nullptr; }
  int start_count() const { return start_count_; }
  int stop_count() const { return stop_count_; }
  const WatcherOptions& options() const { return options_; }

 private:
  static void on_timer(uv_timer_t* timer) noexcept;
  void deliver();
  void schedule();

  uv_loop_t* loop_;
  WatcherOptions options_;
  uv_timer_t* timer_ = nullptr;
  std::deque<std::vector<core::Change>> batches_;
  std::deque<WatcherError> errors_;
  std::optional<WatcherError> start_error_;
  std::size_t watched_directories_ = 1;
  int start_count_ = 0;
  int stop_count_ = 0;
};

}  // namespace tetherd::watchers
