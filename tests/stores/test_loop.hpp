#pragma once

// A real libuv loop per test, and waiting on conditions with a deadline (never sleeps).

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>

#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::test {

class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    executor_ = std::make_unique<stores::UvExecutor>(&loop_);
  }
  ~TestLoop() {
    executor_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // finishes queued work and closing handles
    uv_loop_close(&loop_);
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  stores::UvExecutor& executor() { return *executor_; }
  uv_loop_t* loop() { return &loop_; }

  /// Runs the loop until `done()` holds; false if the deadline passed first.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(120)) {
    bool expired = false;
    uv_timer_t deadline;
    uv_timer_init(&loop_, &deadline);
    deadline.data = &expired;
    uv_timer_start(
        &deadline, [](uv_timer_t* timer) { *static_cast<bool*>(timer->data) = true; },
        static_cast<std::uint64_t>(limit.count()), 0);
    while (!done() && !expired)
      uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&deadline);
    bool closed = false;
    deadline.data = &closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&deadline),
             [](uv_handle_t* handle) { *static_cast<bool*>(handle->data) = true; });
    while (!closed)
      uv_run(&loop_, UV_RUN_NOWAIT);
    return done();
  }

  /// Runs until the callback handed to `start` has been called; returns its result.
  template <typename T, typename Start>
  core::Result<T> await(Start start) {
    auto slot = std::make_shared<std::optional<core::Result<T>>>();
    start(core::Callback<T>([slot](core::Result<T> result) { slot->emplace(std::move(result)); }));
    REQUIRE(run_until([&] { return slot->has_value(); }));
    return std::move(**slot);
  }

 private:
  uv_loop_t loop_;
  std::unique_ptr<stores::UvExecutor> executor_;
};

}  // namespace tetherd::test
