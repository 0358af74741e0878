// The event log file against mistakes and attacks: a symbolic link planted at its path, its
// mode, a full disk (a file size limit stands in for it), and the file removed or rotated.

#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "tetherd/service/event_log.hpp"

using tetherd::daemon::Event;
using tetherd::daemon::EventLevel;
using tetherd::daemon::EventLog;
using tetherd::daemon::EventLogOptions;
using tetherd::test_support::TempDir;

namespace {

EventLogOptions file_only(const std::string& file) {
  EventLogOptions options;
  options.stderr_format = EventLogOptions::StderrFormat::none;
  options.file = file;
  return options;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));  // an unterminated rest
  return lines;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Event copy_of(const std::string& name) {
  return Event(EventLevel::info, "copy").rule("r").path(name).result("ok");
}

constexpr auto kGiveUp = std::chrono::seconds(60);  // a failing test, not a slow machine

}  // namespace

TEST_CASE("a symbolic link at the log path is refused, saying so, and its target is untouched") {
  TempDir dir("event-log-file");
  const std::string target = dir.path().string() + "/target";
  const std::string link = dir.path().string() + "/events.jsonl";
  std::ofstream(target) << "precious\n";
  std::filesystem::create_symlink(target, link);
  std::string reason;
  try {
    EventLog log(file_only(link));
    log.emit(copy_of("a"));
  } catch (const std::runtime_error& error) {
    reason = error.what();
  }
  CHECK(contains(reason, link));
  CHECK(contains(reason, "symbolic link"));
  CHECK(read_file(target) == "precious\n");
}

TEST_CASE("the log file is created mode 0640 whatever the umask") {
  TempDir dir("event-log-file");
  const std::string file = dir.path().string() + "/logs/events.jsonl";
  const mode_t saved = ::umask(0);
  {
    EventLog log(file_only(file));
    log.emit(copy_of("a"));
  }
  ::umask(saved);
  struct stat info {};
  REQUIRE(::stat(file.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0640);
}

TEST_CASE("a write cut short leaves whole lines only, and the dropped events are reported") {
  TempDir dir("event-log-file");
  const std::string file = dir.path().string() + "/events.jsonl";
  std::signal(SIGXFSZ, SIG_IGN);  // beyond the limit: EFBIG, as a full disk gives ENOSPC
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  EventLog log(file_only(file));
  log.emit(copy_of("first"));
  const auto first_size = static_cast<rlim_t>(std::filesystem::file_size(file));
  // Room for 10 more bytes: the next line is cut after them, the one after fits nowhere.
  rlimit limited = saved;
  limited.rlim_cur = first_size + 10;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  log.emit(copy_of("second"));
  log.emit(copy_of("third"));
  const std::string while_full = read_file(file);
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);  // the disk has room again
  log.emit(copy_of("fourth"));
  log.flush();

  CHECK(while_full.size() == first_size);  // the cut part of "second" is gone again
  const std::string text = read_file(file);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  const auto lines = lines_of(text);
  for (const auto& line : lines) {  // no line continues another
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
    CHECK(line.find("}{") == std::string::npos);
  }
  REQUIRE(lines.size() == 3);
  CHECK(contains(lines[0], "\"path\":\"first\""));
  CHECK(contains(lines[1], "\"path\":\"fourth\""));
  CHECK(contains(lines[2], "\"event\":\"event_log\""));
  CHECK(contains(lines[2], "\"result\":\"dropped\""));
  CHECK(contains(lines[2], "\"events\":2"));
}

TEST_CASE("a removed log file is noticed and created again") {
  TempDir dir("event-log-file");
  const std::string file = dir.path().string() + "/logs/events.jsonl";
  EventLog log(file_only(file));
  log.emit(copy_of("before"));
  std::filesystem::remove_all(dir.path() / "logs");  // the file and its directory
  const auto give_up = std::chrono::steady_clock::now() + kGiveUp;
  while (!std::filesystem::exists(file) && std::chrono::steady_clock::now() < give_up) {
    log.emit(copy_of("after"));  // looked for at a bounded rate, when there is a line
  }
  REQUIRE(std::filesystem::exists(file));
  log.emit(copy_of("last"));
  const std::string text = read_file(file);
  CHECK(contains(text, "\"result\":\"recreated\""));
  CHECK(contains(text, "\"path\":\"last\""));
}

TEST_CASE("reopen() writes to a new file at the path after the old one was renamed") {
  TempDir dir("event-log-file");
  const std::string file = dir.path().string() + "/events.jsonl";
  const std::string rotated = file + ".1";
  EventLog log(file_only(file));
  log.set_batching(true);
  log.emit(copy_of("old"));
  std::filesystem::rename(file, rotated);  // logrotate, then its postrotate SIGHUP
  log.reopen();
  log.emit(copy_of("new"));
  log.flush();
  CHECK(contains(read_file(rotated), "\"path\":\"old\""));
  CHECK_FALSE(contains(read_file(rotated), "\"path\":\"new\""));
  const std::string text = read_file(file);
  CHECK(contains(text, "\"result\":\"reopened\""));
  CHECK(contains(text, "\"path\":\"new\""));
}

TEST_CASE("human lines escape control characters and bad UTF-8 in every text") {
  const std::string forged = "x ok\n23:59:59.000 delete mirror important.db ok";
  const Event event = Event(EventLevel::error, "copy")
                          .rule("r\x1b[2J")
                          .path(forged)
                          .to_path(
                              "bad\xff\x9b"
                              "2J")
                          .message("line one\nline two\r\x07");
  const std::string human = event.to_human();
  CHECK(human.find('\n') == std::string::npos);
  CHECK(human.find('\r') == std::string::npos);
  CHECK(human.find('\x1b') == std::string::npos);
  CHECK(human.find('\x07') == std::string::npos);
  CHECK(contains(human, "x ok\\n23:59:59.000 delete"));
  CHECK(contains(human, "r\\x1b[2J"));
  CHECK(contains(human, "to=bad\\xff\\x9b2J"));  // the exact bytes, not U+FFFD
  CHECK(contains(human, "line one\\nline two\\r\\x07"));
}
