#pragma once

// FdLineSink: the event log's spdlog sink. It writes whole lines to a file descriptor with
// write(2), either each line at once or, while batching, all the lines of a loop turn in
// one write at flush(). The daemon batches: it flushes right before its loop waits
// (Daemon::run), so a line reaches the file or the pipe within the turn that emitted it,
// while a burst of a thousand copies costs a few writes instead of a thousand (spdlog's
// stderr sink flushes every line). A reader never sees part of a line from this sink
// unless a write is cut short, and then the rest follows at once. Loop thread only.

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <string>

namespace tetherd::daemon {

class FdLineSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  /// Appends to `file`, created (with missing parent directories) when absent. Throws
  /// std::runtime_error with the reason when it cannot be opened.
  static std::shared_ptr<FdLineSink> open_file(const std::string& file);
  /// Writes to a descriptor owned by someone else (stderr).
  explicit FdLineSink(int fd) : fd_(fd), owned_(false) {}
  ~FdLineSink() override;
  FdLineSink(const FdLineSink&) = delete;
  FdLineSink& operator=(const FdLineSink&) = delete;

  /// Batching on: lines wait for flush() (or for kMaxPending bytes). Off: written at once;
  /// turning it off flushes what waits.
  void set_batching(bool on);

  /// Beyond this many bytes waiting, lines are written without waiting for flush().
  static constexpr std::size_t kMaxPending = 64 * 1024;

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override { write_pending(); }

 private:
  FdLineSink(int fd, std::string file) : fd_(fd), owned_(true), file_(std::move(file)) {}
  /// Writes pending_ out, retrying interrupted and short writes. A descriptor that fails
  /// otherwise (a full disk, a closed pipe) loses those lines: the log must not stop the
  /// daemon. For a file, stderr says so once, and again when writing works again.
  void write_pending();

  int fd_;
  bool owned_;
  std::string file_;  // the log file's path; empty for stderr
  bool failing_ = false;
  bool batching_ = false;
  std::string pending_;
};

}  // namespace tetherd::daemon
