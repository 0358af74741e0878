#pragma once

// FdLineSink: the event log's spdlog sink. It writes whole lines to a file descriptor with
// write(2), either each line at once or, while batching, all the lines of a loop turn in
// one write at flush(). The daemon batches: it flushes right before its loop waits
// (Daemon::run), so a line reaches the file or the pipe within the turn that emitted it,
// while a burst of a thousand copies costs a few writes instead of a thousand (spdlog's
// stderr sink flushes every line). Loop thread only.
//
// A log file holds whole lines only: when a write is cut short (a full disk, a file size
// limit), the part of a line it wrote is cut off again (ftruncate), and the lines that
// could not be written are counted and dropped; once writing works again the count is
// handed to the EventLog (take_dropped), which reports it. A log file that is removed is
// noticed (at most once a second, when there is something to write) and created again;
// reopen() opens the path anew (SIGHUP, after logrotate renamed the file).
//
// A descriptor the sink does not own (stderr) is written by a BackgroundFdWriter: a
// reader who stops reading must not stop the loop; what cannot wait is dropped, counted,
// and reported through take_dropped() as for a file.

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "background_fd_writer.hpp"

namespace tetherd::daemon {

class FdLineSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  /// Appends to `file`, created mode 0640 (with missing parent directories) when absent.
  /// A symbolic link there is not followed. Throws std::runtime_error with the reason when
  /// it cannot be opened.
  static std::shared_ptr<FdLineSink> open_file(const std::string& file);
  /// Writes to a descriptor owned by someone else (stderr), from a thread of its own.
  explicit FdLineSink(int fd)
      : fd_(fd), owned_(false), background_(std::make_unique<BackgroundFdWriter>(fd)) {}
  ~FdLineSink() override;
  FdLineSink(const FdLineSink&) = delete;
  FdLineSink& operator=(const FdLineSink&) = delete;

  /// Batching on: lines wait for flush() (or for kMaxPending bytes). Off: written at once;
  /// turning it off flushes what waits.
  void set_batching(bool on);

  /// Opens the file's path again and writes there from now on (lines waiting included).
  /// On failure the old descriptor stays in use and the reason is returned. A sink that
  /// does not own its descriptor (stderr) has nothing to reopen.
  std::optional<std::string> reopen();

  /// The number of lines dropped while writing failed, once writing works again (then
  /// zero until the next failure ends).
  std::uint64_t take_dropped();
  /// Whether the file was found removed and created again since the last call.
  bool take_recreated();

  /// Beyond this many bytes waiting, lines are written without waiting for flush().
  static constexpr std::size_t kMaxPending = 64 * 1024;
  /// How often, at most, a removed log file is looked for.
  static constexpr std::chrono::seconds kRemovedCheckInterval{1};

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override;
  void flush_() override { write_pending(); }

 private:
  FdLineSink(int fd, std::string file) : fd_(fd), owned_(true), file_(std::move(file)) {}
  /// Writes pending_ out, retrying interrupted and short writes. A descriptor that fails
  /// otherwise (a full disk, a closed pipe) loses those lines: the log must not stop the
  /// daemon. For a file, stderr says so once, and again when writing works again.
  void write_pending();
  /// After a write failed with `written` bytes of pending_ written: cuts a partly written
  /// line off the file again and counts the lines lost.
  void drop_unwritten(std::size_t written);
  /// Re-creates the file when it has been removed (checked at a bounded rate).
  void recreate_if_removed();

  int fd_;
  bool owned_;
  std::string file_;  // the log file's path; empty for stderr
  bool failing_ = false;
  bool batching_ = false;
  std::string pending_;
  std::uint64_t dropping_ = 0;  // lines lost in the current failure
  std::uint64_t dropped_ = 0;   // lines lost in a failure that has ended, not yet taken
  bool recreated_ = false;
  std::chrono::steady_clock::time_point next_removed_check_{};
  std::unique_ptr<BackgroundFdWriter> background_;  // a descriptor not owned: stderr
};

}  // namespace tetherd::daemon
