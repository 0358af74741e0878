#pragma once

// The libuv implementation of core::Executor: posted tasks run from an idle handle on
// the loop thread, blocking work on the libuv threadpool (uv_queue_work), timers on
// uv_timer_t, dedicated jobs on a thread of the executor's own. Everything is called on
// the loop thread.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>

#include "tetherd/core/store.hpp"

namespace tetherd::stores {

class DedicatedThread;

class UvExecutor final : public core::Executor {
 public:
  explicit UvExecutor(uv_loop_t* loop);
  /// Closes the executor's handles (see close()).
  ~UvExecutor() override;
  UvExecutor(const UvExecutor&) = delete;
  UvExecutor& operator=(const UvExecutor&) = delete;

  uv_loop_t* loop() const noexcept { return loop_; }

  void post(Task task) override;
  void run_blocking(Task work, Task done) override;
  void run_blocking_dedicated(Task work, Task done) override;
  TimerId start_timer(std::chrono::milliseconds delay, Task task) override;
  void cancel_timer(TimerId timer) override;

  /// Drops pending posted tasks and timers and closes the handles; the loop must run once
  /// more to finish closing them before uv_loop_close(). Work already queued on the
  /// threadpool still completes (its done task runs only if the executor is alive);
  /// dedicated jobs already submitted run before close() returns (their done tasks do not).
  void close();
  /// Blocking jobs (dedicated ones included) queued and not yet completed.
  std::size_t blocking_in_flight() const noexcept;

 private:
  struct Idle;
  struct Timer;
  struct Work;
  static void on_idle(uv_idle_t* handle) noexcept;
  void run_posted() noexcept;

  uv_loop_t* loop_;
  Idle* idle_ = nullptr;  // owned by the loop once closing starts
  std::deque<Task> posted_;
  std::map<TimerId, Timer*> timers_;
  TimerId next_timer_ = 1;
  std::size_t blocking_in_flight_ = 0;
  std::unique_ptr<DedicatedThread> dedicated_;
  // Shared with queued work so a completion after the executor's death is dropped safely.
  std::shared_ptr<UvExecutor*> alive_;
};

}  // namespace tetherd::stores
