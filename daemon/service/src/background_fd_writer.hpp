#pragma once

// BackgroundFdWriter: writes lines to a descriptor someone else owns (stderr) without ever
// blocking the loop thread that emits them, when its reader stops reading (a pipe nobody
// drains, a paused `| less`, a terminal stopped with ^S, a slow journald stream).
//
// What the descriptor takes at once is written at once, on the caller's thread, so that
// a healthy reader sees each line within the loop turn that emitted it (before, say, the
// reply to a settle that the line preceded). A pipe, FIFO or terminal is written through a
// non-blocking descriptor of its own (opened again through /proc/self/fd, which leaves the
// shared one as it is); a socket with MSG_DONTWAIT; a regular file directly. What it does
// not take waits for a thread of the writer's own, and later lines queue behind it, in
// order. At most `max_queued` bytes wait; lines beyond are dropped whole and counted, and
// the count is handed over (take_dropped) once a write has succeeded again.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>

namespace tetherd::daemon {

class BackgroundFdWriter {
 public:
  static constexpr std::size_t kMaxQueued = 1 << 20;
  /// How long destruction waits for what is queued to be written before it leaves the
  /// thread behind (blocked on a reader that never reads; it ends with the process).
  static constexpr std::chrono::seconds kExitPatience{2};

  explicit BackgroundFdWriter(int fd, std::size_t max_queued = kMaxQueued);
  ~BackgroundFdWriter();
  BackgroundFdWriter(const BackgroundFdWriter&) = delete;
  BackgroundFdWriter& operator=(const BackgroundFdWriter&) = delete;

  /// Writes whole lines (`lines` ends with '\n'), or queues what the descriptor does not
  /// take now; never waits for it. Lines that would take the queue past its bound are
  /// dropped (a single oversized batch is taken when nothing waits).
  void submit(std::string_view lines);
  /// Lines dropped (queue full, or the write failed: a closed pipe) in a failure that has
  /// ended, once; zero otherwise.
  std::uint64_t take_dropped();
  /// Waits until everything submitted so far has been written or dropped; false if that
  /// took longer than `patience`.
  bool wait_drained(std::chrono::milliseconds patience);

 private:
  struct Shared;
  static void run(std::shared_ptr<Shared> shared);

  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace tetherd::daemon
