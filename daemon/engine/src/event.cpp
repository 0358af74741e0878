#include "tetherd/engine/event.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "tetherd/core/text.hpp"

namespace tetherd::daemon {
namespace {

std::string utc_timestamp(std::chrono::system_clock::time_point time, bool date) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm parts{};
  ::gmtime_r(&whole, &parts);
  char buffer[64];
  if (date) {
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                  parts.tm_min, parts.tm_sec, static_cast<int>(millis));
  } else {
    std::snprintf(buffer, sizeof buffer, "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min,
                  parts.tm_sec, static_cast<int>(millis));
  }
  return buffer;
}

// JSON text of the event's values (strings are valid UTF-8 already: text() and raw_path()
// make them so, and keys and event names are the code's own ASCII).
void append_json_value(std::string& out, const std::string& value) {
  core::append_json_quoted(out, value);
}
void append_json_value(std::string& out, std::int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}
void append_json_value(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char digits[32];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;  // shortest
  out.append(digits, end);
  // A whole number stays recognisably a real ("17.0", as before), not an integer.
  if (std::find_if(digits, end, [](char c) { return c == '.' || c == 'e'; }) == end) out += ".0";
}
void append_json_value(std::string& out, bool value) {
  out += value ? "true" : "false";
}

}  // namespace

std::string_view to_string(EventLevel level) noexcept {
  switch (level) {
    case EventLevel::debug:
      return "debug";
    case EventLevel::info:
      return "info";
    case EventLevel::warn:
      return "warn";
    case EventLevel::error:
      return "error";
  }
  return "info";
}

std::optional<EventLevel> event_level_from_string(std::string_view text) noexcept {
  if (text == "debug" || text == "trace") return EventLevel::debug;
  if (text == "info") return EventLevel::info;
  if (text == "warn" || text == "warning") return EventLevel::warn;
  if (text == "error") return EventLevel::error;
  return std::nullopt;
}

Event::Event(EventLevel level, std::string_view name)
    : level_(level), name_(name), time_(std::chrono::system_clock::now()) {
  fields_.reserve(8);  // an action line has 6-8 fields: one allocation, not four
}

Event& Event::text(std::string_view key, std::string_view value) {
  fields_.emplace_back(std::string(key), core::utf8_lossy(value));
  return *this;
}
Event& Event::number(std::string_view key, std::int64_t value) {
  fields_.emplace_back(std::string(key), value);
  return *this;
}
Event& Event::real(std::string_view key, double value) {
  fields_.emplace_back(std::string(key), value);
  return *this;
}
Event& Event::flag(std::string_view key, bool value) {
  fields_.emplace_back(std::string(key), value);
  return *this;
}

Event& Event::raw_path(std::string_view key, std::string_view bytes) {
  fields_.emplace_back(std::string(key), core::utf8_lossy(bytes));
  if (!core::is_valid_utf8(bytes)) {
    fields_.emplace_back(std::string(key) + "_base64", core::base64_encode(bytes));
  }
  raw_paths_.emplace_back(std::string(key), std::string(bytes));
  return *this;
}

Event& Event::duration(std::chrono::steady_clock::duration elapsed) {
  const double ms =
      static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()) /
      1000.0;
  return real("duration_ms", static_cast<double>(static_cast<std::int64_t>(ms * 1000.0)) / 1000.0);
}

Event& Event::error(const core::StoreError& failure) {
  text("error", failure.message());
  text("errc", core::to_string(failure.code));
  return flag("retryable", failure.retryable);
}

std::string Event::to_json() const {
  // Written directly rather than through a JSON DOM: this runs once per action, on the
  // loop thread, and a DOM cost some thirty allocations per line. Same object as a DOM
  // would give: the keys in first-seen order, a repeated key holding its last value.
  const std::string ts = utc_timestamp(time_, true);
  struct Member {
    std::string_view key;
    std::string_view text;         // the value of ts, level and event...
    const Value* value = nullptr;  // ...unless a field of the same key replaced it
  };
  std::vector<Member> members;
  members.reserve(fields_.size() + 3);
  members.push_back({"ts", ts});
  members.push_back({"level", to_string(level_)});
  members.push_back({"event", name_});
  for (const auto& [key, value] : fields_) {
    auto same = std::find_if(members.begin(), members.end(),
                             [&key = key](const Member& member) { return member.key == key; });
    if (same != members.end()) {
      same->value = &value;
    } else {
      members.push_back({key, {}, &value});
    }
  }
  std::string line;
  line.reserve(160);
  line += '{';
  for (const auto& member : members) {
    if (line.size() > 1) line += ',';
    core::append_json_quoted(line, member.key);
    line += ':';
    if (member.value) {
      std::visit([&line](const auto& v) { append_json_value(line, v); }, *member.value);
    } else {
      core::append_json_quoted(line, member.text);
    }
  }
  line += '}';
  return line;
}

std::optional<std::string_view> Event::exact_path(std::string_view key) const noexcept {
  for (const auto& [name, bytes] : raw_paths_) {
    if (name == key) return std::string_view(bytes);
  }
  return std::nullopt;
}

std::optional<std::string_view> Event::text_field(std::string_view key) const noexcept {
  for (const auto& [name, value] : fields_) {
    if (name != key) continue;
    if (const auto* text_value = std::get_if<std::string>(&value)) return *text_value;
  }
  return std::nullopt;
}

std::string Event::to_human() const {
  return utc_timestamp(time_, false) + ' ' + to_message();
}

std::string Event::to_message() const {
  std::string line;
  if (level_ >= EventLevel::warn) {
    line += to_string(level_);
    line += ": ";
  }
  line += name_;
  for (const auto& [key, value] : fields_) {
    if (key.ends_with("_base64") || key == "errc" || key == "retryable") continue;
    line += ' ';
    if (key != "rule" && key != "path" && key != "result" && key != "message") {
      line += key;
      line += '=';
    }
    if (const auto* text_value = std::get_if<std::string>(&value)) {
      // Escaped: a name holding a newline or a terminal control sequence must not forge
      // a line or drive the terminal. A path shows its exact bytes (\xNN for bad ones).
      const auto exact = exact_path(key);
      line += core::display_escape(exact ? *exact : std::string_view(*text_value));
    } else if (const auto* integer = std::get_if<std::int64_t>(&value)) {
      line += std::to_string(*integer);
    } else if (const auto* real_value = std::get_if<double>(&value)) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.3g", *real_value);
      line += buffer;
    } else if (const auto* boolean = std::get_if<bool>(&value)) {
      line += *boolean ? "true" : "false";
    }
  }
  return line;
}

}  // namespace tetherd::daemon
