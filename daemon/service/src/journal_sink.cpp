#include "tetherd/service/journal_sink.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
// Without this, sd_journal_sendv adds CODE_FILE/CODE_LINE/CODE_FUNC of this file to every
// entry: build paths that tell a reader nothing about the event.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include <charconv>
#include <cstdlib>
#include <string>

namespace tetherd::daemon {
namespace {

constexpr std::size_t max_field_name = 64;  // journald refuses longer names

bool parse_unsigned(std::string_view text, unsigned long long& value) noexcept {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

std::string render(const Event::Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  if (const auto* boolean = std::get_if<bool>(&value)) return *boolean ? "true" : "false";
  // The shortest text that reads back as the same double: what the JSON line shows.
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, std::get<double>(value));
  return error == std::errc{} ? std::string(buffer, end) : std::string("nan");
}

}  // namespace

bool journal_stream_is(int fd) noexcept {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  const std::string_view text(stream);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  if (!parse_unsigned(text.substr(0, colon), device) ||
      !parse_unsigned(text.substr(colon + 1), inode)) {
    return false;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) return false;
  return static_cast<unsigned long long>(info.st_dev) == device &&
         static_cast<unsigned long long>(info.st_ino) == inode;
}

bool journal_available() noexcept {
  struct stat info {};
  return ::stat(journal_socket_path, &info) == 0 && S_ISSOCK(info.st_mode);
}

std::string journal_field_name(std::string_view key) {
  std::string name = "TETHERD_";
  for (const char c : key) {
    if (name.size() == max_field_name) break;
    if (c >= 'a' && c <= 'z') {
      name += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      name += c;
    } else {
      name += '_';
    }
  }
  return name;
}

int journal_priority(EventLevel level) noexcept {
  switch (level) {
    case EventLevel::debug:
      return 7;  // LOG_DEBUG
    case EventLevel::info:
      return 6;  // LOG_INFO
    case EventLevel::warn:
      return 4;  // LOG_WARNING
    case EventLevel::error:
      return 3;  // LOG_ERR
  }
  return 6;
}

std::vector<std::string> journal_fields(const Event& event) {
  std::vector<std::string> fields;
  fields.push_back("MESSAGE=" + event.to_message());
  fields.push_back("PRIORITY=" + std::to_string(journal_priority(event.level())));
  fields.push_back("SYSLOG_IDENTIFIER=tetherd");
  fields.push_back("TETHERD_EVENT=" + event.name());
  event.for_each_field([&](std::string_view key, const Event::Value& value) {
    if (key.ends_with("_base64") &&
        event.exact_path(key.substr(0, key.size() - std::string_view("_base64").size()))) {
      return;  // the exact bytes are in the path's own field
    }
    std::string field = journal_field_name(key);
    field += '=';
    if (const auto exact = event.exact_path(key)) {
      field.append(*exact);
    } else {
      field += render(value);
    }
    fields.push_back(std::move(field));
  });
  return fields;
}

int send_to_journal(const Event& event) {
  const std::vector<std::string> fields = journal_fields(event);
  std::vector<struct iovec> parts(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    parts[i].iov_base = const_cast<char*>(fields[i].data());
    parts[i].iov_len = fields[i].size();
  }
  return sd_journal_sendv(parts.data(), static_cast<int>(parts.size()));
}

}  // namespace tetherd::daemon
