#pragma once

// One event of the structured event log: a name, a level and ordered fields, rendered as a
// JSON line or a line for a person. One JSON object per line: every line has "ts" (UTC,
// milliseconds), "level" and "event"; action lines also "rule", "path", "result" and
// "duration_ms". A path that is not valid UTF-8 keeps the line valid JSON: "path" holds a
// lossy rendering (U+FFFD for bad bytes) and "path_base64" the exact bytes. Secrets never
// reach the log: callers pass paths, names and error messages only.
//
// The engine builds events and hands them to an EventSink; where they go (a file, stderr,
// the journal) is the service's business.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "tetherd/core/errors.hpp"

namespace tetherd::daemon {

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
  /// A line for a person: "15:04:08.255 copy photos a.jpg ok 12.3 ms". Text values are
  /// escaped (core::display_escape): one line, no control characters, paths' exact bytes.
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

/// Where the engine's events go. Loop thread only.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& event) = 0;
  /// Whether an event of `level` would reach anyone: the caller may skip building one
  /// that would not (a copy's line costs a few allocations, and a sync of small files
  /// makes one per file).
  virtual bool wanted(EventLevel level) const noexcept = 0;
};

}  // namespace tetherd::daemon
