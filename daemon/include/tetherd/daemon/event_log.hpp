#pragma once

// The structured event log (README.md "Event log" section): one JSON object per line, to a file
// and/or stderr, through spdlog. Every line has "ts" (UTC, milliseconds), "level" and "event";
// action lines also "rule", "path", "result" and "duration_ms". A path that is not valid
// UTF-8 keeps the line valid JSON: "path" holds a lossy rendering (U+FFFD for bad bytes)
// and "path_base64" the exact bytes. Secrets never reach the log: callers pass paths,
// names and error messages only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tetherd/core/errors.hpp"

namespace spdlog {
class logger;
}

namespace tetherd::daemon {

class FdLineSink;

enum class EventLevel { debug, info, warn, error };
std::string_view to_string(EventLevel level) noexcept;
/// "debug", "info", "warn"/"warning", "error"; nullopt otherwise.
std::optional<EventLevel> event_level_from_string(std::string_view text) noexcept;

/// One event being built. Field order is kept in the output.
class Event {
 public:
  using Value = std::variant<std::string, std::int64_t, double, bool>;

  Event(EventLevel level, std::string_view name);

  Event& rule(std::string_view name) { return text("rule", name); }
  Event& store(std::string_view name) { return text("store", name); }
  /// A path as raw bytes; rendered per the UTF-8 rule above.
  Event& path(std::string_view bytes) { return raw_path("path", bytes); }
  Event& to_path(std::string_view bytes) { return raw_path("to", bytes); }
  Event& result(std::string_view outcome) { return text("result", outcome); }
  Event& bytes(std::uint64_t count) { return number("bytes", static_cast<std::int64_t>(count)); }
  Event& duration(std::chrono::steady_clock::duration elapsed);
  /// "error" (the user-facing message), "errc", and "retryable".
  Event& error(const core::StoreError& failure);
  Event& message(std::string_view text_value) { return text("message", text_value); }
  Event& text(std::string_view key, std::string_view value);
  Event& number(std::string_view key, std::int64_t value);
  Event& real(std::string_view key, double value);
  Event& flag(std::string_view key, bool value);

  EventLevel level() const noexcept { return level_; }
  const std::string& name() const noexcept { return name_; }
  /// The JSON line (without the newline), with `ts` taken at construction.
  std::string to_json() const;
  /// A line for a person: "15:04:08.255 copy photos a.jpg ok 12.3 ms".
  std::string to_human() const;
  /// to_human() without the time stamp (the journal keeps its own): valid UTF-8.
  std::string to_message() const;

  /// Visits the fields in order as (key, value), exactly as the JSON line has them (a path
  /// field holds its lossy text and is followed by "<key>_base64" when it is not UTF-8).
  template <typename Visit>
  void for_each_field(Visit&& visit) const {
    for (const auto& [key, value] : fields_)
      visit(std::string_view(key), value);
  }
  /// The exact bytes given to path()/to_path() for `key` ("path", "to"), or nullopt.
  std::optional<std::string_view> exact_path(std::string_view key) const noexcept;
  /// The value of the text field `key`, or nullopt.
  std::optional<std::string_view> text_field(std::string_view key) const noexcept;

 private:
  Event& raw_path(std::string_view key, std::string_view bytes);

  EventLevel level_;
  std::string name_;
  std::chrono::system_clock::time_point time_;
  std::vector<std::pair<std::string, Value>> fields_;
  std::vector<std::pair<std::string, std::string>> raw_paths_;  // key -> exact bytes
};

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
class EventLog {
 public:
  /// Throws std::runtime_error (with the path and reason) when the file cannot be opened.
  explicit EventLog(EventLogOptions options);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  void emit(const Event& event);
  void flush();
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
  bool wanted(EventLevel level) const noexcept {
    return observer_ || (enabled(level) && (file_ || stderr_ || options_.journal));
  }

 private:
  EventLogOptions options_;
  std::shared_ptr<spdlog::logger> file_;
  std::shared_ptr<spdlog::logger> stderr_;
  std::shared_ptr<FdLineSink> file_sink_;
  std::shared_ptr<FdLineSink> stderr_sink_;
  std::function<void(const Event&)> observer_;
};

}  // namespace tetherd::daemon
