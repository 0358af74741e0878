#pragma once

// The structured event log (README.md "Event log" section): the engine's events
// (tetherd/engine/event.hpp) as JSON lines to a file, as JSON or human lines to stderr, or
// to the systemd journal with structured fields, through spdlog.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tetherd/engine/event.hpp"

namespace spdlog {
class logger;
}

namespace tetherd::daemon {

class FdLineSink;

struct EventLogOptions {
  std::string file;  ///< append JSON lines here; empty: no file
  /// stderr: nothing, JSON lines, or human-readable lines.
  enum class StderrFormat { none, json, human } stderr_format = StderrFormat::human;
  EventLevel level = EventLevel::info;
  /// Send each event to the systemd journal with structured fields (journal_sink.hpp)
  /// instead of stderr, so the journal holds no duplicate lines. The file stays as asked.
  bool journal = false;
};

/// Writes events. Used on the loop thread only.
class EventLog final : public EventSink {
 public:
  /// Throws std::runtime_error (with the path and reason) when the file cannot be opened.
  explicit EventLog(EventLogOptions options);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  void emit(const Event& event) override;
  void flush();
  /// Opens the log file's path anew (SIGHUP: logrotate renamed or removed the file) and
  /// emits an "event_log" event saying it did, or why it could not (then the old file
  /// is still written). No file: nothing to do.
  void reopen();
  /// Batching on: lines wait in memory until flush() (the daemon flushes before its loop
  /// waits, so nothing waits longer than a loop turn); off (the default): each line is
  /// written when emitted. Turning it off flushes.
  void set_batching(bool on);
  /// Called with every emitted event, whatever its level (the daemon's status line).
  void set_observer(std::function<void(const Event&)> observer) { observer_ = std::move(observer); }
  EventLevel level() const noexcept { return options_.level; }
  bool enabled(EventLevel level) const noexcept { return level >= options_.level; }
  /// Whether an event of `level` would reach anyone (a sink that takes its level, or the
  /// observer): the caller may skip building one that would not (a copy's line costs a
  /// few allocations, and a sync of small files makes one per file).
  bool wanted(EventLevel level) const noexcept override {
    return observer_ || (enabled(level) && (file_ || stderr_ || options_.journal));
  }

 private:
  /// Emits the "event_log" events the sinks have pending: lines dropped while a sink could
  /// not write (now that it can; for stderr, while its reader did not keep up), the file
  /// re-created after it was removed.
  void report_sink_trouble();

  EventLogOptions options_;
  std::shared_ptr<spdlog::logger> file_;
  std::shared_ptr<spdlog::logger> stderr_;
  std::shared_ptr<FdLineSink> file_sink_;
  std::shared_ptr<FdLineSink> stderr_sink_;
  std::function<void(const Event&)> observer_;
  bool reporting_ = false;
};

}  // namespace tetherd::daemon
