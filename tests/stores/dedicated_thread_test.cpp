// UvExecutor's dedicated jobs: they run in order on a thread of their own, never queued
// behind the threadpool's jobs; their completions run on the loop thread; they keep the
// loop alive while in flight only; close() lets the submitted ones run.

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "test_loop.hpp"

using namespace tetherd;
using namespace tetherd::test;

namespace {

// A gate the threadpool's jobs wait at until it opens; it opens when it goes out of scope
// too, so a failing check never leaves the pool blocked.
class Gate {
 public:
  ~Gate() { open(); }
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    opened_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mutex_);
    opened_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("dedicated jobs run in order, each completing on the loop thread") {
  TestLoop loop;
  std::vector<int> ran;  // written by the dedicated thread, one job at a time
  std::vector<int> completed;
  bool completions_on_loop_thread = true;
  const auto loop_thread = std::this_thread::get_id();
  for (int i = 0; i < 20; ++i) {
    loop.executor().run_blocking_dedicated([&ran, i] { ran.push_back(i); },
                                           [&, i] {
                                             completions_on_loop_thread &=
                                                 std::this_thread::get_id() == loop_thread;
                                             completed.push_back(i);
                                           });
  }
  REQUIRE(loop.run_until([&] { return completed.size() == 20; }));
  CHECK(completions_on_loop_thread);
  for (int i = 0; i < 20; ++i) {
    CHECK(ran[i] == i);
    CHECK(completed[i] == i);
  }
  CHECK(loop.executor().blocking_in_flight() == 0);
}

TEST_CASE("a dedicated job is not queued behind blocked threadpool jobs") {
  TestLoop loop;
  Gate gate;
  // More blocked jobs than the pool has threads (at most 1024 in libuv): every thread
  // waits at the gate and the rest queue behind them.
  constexpr int kBlocked = 1100;
  std::atomic<int> pool_done{0};
  for (int i = 0; i < kBlocked; ++i)
    loop.executor().run_blocking([&gate] { gate.wait(); }, [&pool_done] { ++pool_done; });
  bool flushed = false;
  loop.executor().run_blocking_dedicated([] {}, [&flushed] { flushed = true; });
  CHECK(loop.run_until([&] { return flushed; }, std::chrono::seconds(30)));
  CHECK(pool_done == 0);
  gate.open();
  REQUIRE(loop.run_until([&] { return pool_done == kBlocked; }));
}

TEST_CASE("a dedicated job keeps the loop alive until its completion, an idle thread does not") {
  TestLoop loop;
  std::atomic<bool> ran{false};
  bool completed = false;
  loop.executor().run_blocking_dedicated(
      [&ran] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // outlasts a loop turn
        ran = true;
      },
      [&completed] { completed = true; });
  uv_run(loop.loop(), UV_RUN_DEFAULT);  // returns once nothing keeps the loop alive
  CHECK(ran);
  CHECK(completed);
  // Idle now: the thread's handle no longer holds the loop.
  CHECK(uv_run(loop.loop(), UV_RUN_DEFAULT) == 0);
}

TEST_CASE("close lets the submitted dedicated jobs run and drops their completions") {
  TestLoop loop;
  std::atomic<int> ran{0};
  bool completed = false;
  for (int i = 0; i < 3; ++i)
    loop.executor().run_blocking_dedicated([&ran] { ++ran; }, [&completed] { completed = true; });
  loop.executor().close();
  CHECK(ran == 3);
  uv_run(loop.loop(), UV_RUN_DEFAULT);
  CHECK_FALSE(completed);
  // Submitted after close: nothing runs.
  loop.executor().run_blocking_dedicated([&ran] { ++ran; }, [&completed] { completed = true; });
  uv_run(loop.loop(), UV_RUN_DEFAULT);
  CHECK(ran == 3);
  CHECK_FALSE(completed);
}
