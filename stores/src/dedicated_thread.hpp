#pragma once

// A thread of its own for the blocking jobs that other work waits on (a store's flush,
// which hundreds of writes wait for). libuv's threadpool is one FIFO queue: such a job
// would start only after every copy queued before it, and the writes it would release
// hold their slots meanwhile. Here it starts at once.
//
// Jobs run one at a time, in the order submitted; each job's `done` then runs on the
// loop thread. The thread starts with the first job, so an executor that never needs it
// costs nothing. While a job is in flight the loop stays alive, as for uv_queue_work.

#include <uv.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace tetherd::stores {

class DedicatedThread {
 public:
  using Task = std::function<void()>;

  explicit DedicatedThread(uv_loop_t* loop) : loop_(loop) {}
  /// Must not run from one of its own jobs' `done`.
  ~DedicatedThread() { close(); }
  DedicatedThread(const DedicatedThread&) = delete;
  DedicatedThread& operator=(const DedicatedThread&) = delete;

  /// Loop thread: runs `work` on the thread, then `done` on the loop thread.
  void submit(Task work, Task done);
  /// Loop thread: lets the jobs already submitted run, joins the thread and closes its
  /// handle (the loop must run once more before uv_loop_close()). The `done` of a job
  /// not yet delivered is dropped. No effect when closed already.
  void close();
  /// Jobs submitted whose `done` has not run yet.
  std::size_t in_flight() const noexcept { return in_flight_; }

 private:
  struct Job {
    Task work;
    Task done;
  };
  // Shared with the thread and, while it closes, with the loop's handle.
  struct Shared {
    uv_async_t wakeup;
    std::mutex mutex;
    std::condition_variable work_ready;
    std::deque<Job> queued;    // to run, guarded by mutex
    std::deque<Job> finished;  // to deliver on the loop, guarded by mutex
    bool stopping = false;     // guarded by mutex
    DedicatedThread* owner = nullptr;
  };

  void start();
  static void run(Shared* shared) noexcept;
  static void on_wakeup(uv_async_t* handle) noexcept;
  void deliver() noexcept;

  uv_loop_t* loop_;
  Shared* shared_ = nullptr;  // owned here until close() hands it to the handle's close
  std::thread thread_;
  std::size_t in_flight_ = 0;
  bool closed_ = false;
};

}  // namespace tetherd::stores
