// The journal sink: field mapping (pure), $JOURNAL_STREAM detection (real file descriptors),
// and what sd_journal_sendv really puts on journald's socket. journald's socket path is
// fixed (/run/systemd/journal/socket), so those tests run in a child process with a private
// mount namespace and a tmpfs on /run, where a datagram socket plays journald.

#include "tetherd/service/journal_sink.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "notify_socket.hpp"
#include "support/temp_dir.hpp"
#include "tetherd/core/text.hpp"

using namespace tetherd::daemon;
using tetherd::test::DatagramSink;
using tetherd::test_support::TempDir;

namespace {

/// journald's native protocol: "KEY=value\n", or "KEY\n" + 64-bit little-endian length +
/// value + "\n" for values that hold a newline. nullopt when malformed.
std::optional<std::vector<std::string>> parse_native(const std::string& datagram) {
  std::vector<std::string> fields;
  std::size_t at = 0;
  while (at < datagram.size()) {
    const std::size_t end = datagram.find('\n', at);
    if (end == std::string::npos) return std::nullopt;
    const std::string line = datagram.substr(at, end - at);
    if (line.find('=') != std::string::npos) {
      fields.push_back(line);
      at = end + 1;
      continue;
    }
    if (end + 1 + 8 > datagram.size()) return std::nullopt;
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i)
      length = (length << 8) | static_cast<unsigned char>(datagram[end + 1 + i]);
    const std::size_t value_at = end + 1 + 8;
    if (value_at + length + 1 > datagram.size() || datagram[value_at + length] != '\n') {
      return std::nullopt;
    }
    fields.push_back(line + "=" + datagram.substr(value_at, length));
    at = value_at + length + 1;
  }
  return fields;
}

/// Runs `body` in a child with a private tmpfs on /run; returns its exit status (0: passed;
/// the child prints what failed on stderr).
int in_private_run(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    int code = 0;
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") != 0) {
      std::fprintf(stderr, "cannot make a private /run (needs root): %s\n", std::strerror(errno));
      code = 77;
    } else {
      try {
        code = body();
      } catch (const std::exception& error) {
        std::fprintf(stderr, "exception: %s\n", error.what());
        code = 70;
      }
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int fail(const char* what) {
  std::fprintf(stderr, "child check failed: %s\n", what);
  return 1;
}

/// Points stderr at a non-blocking pipe and returns its read end.
int capture_stderr() {
  int ends[2];
  if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  ::dup2(ends[1], STDERR_FILENO);
  ::close(ends[1]);
  return ends[0];
}

std::string read_available(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t got;
  while ((got = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(got));
  return text;
}

Event sample_event() {
  Event event(EventLevel::error, "copy");
  event.rule("photos")
      .path(std::string("bad\xff\nname.jpg"))
      .to_path("ok/t\xC3\xA9st.jpg")
      .bytes(123456)
      .real("duration_ms", 12.345)
      .result("error")
      .text("error", "Permission denied")
      .text("errc", "permission_denied")
      .flag("retryable", false);
  return event;
}

bool has(const std::vector<std::string>& fields, const std::string& field) {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

}  // namespace

TEST_CASE("journal field names are TETHERD_ plus the upper-cased key") {
  CHECK(journal_field_name("rule") == "TETHERD_RULE");
  CHECK(journal_field_name("duration_ms") == "TETHERD_DURATION_MS");
  CHECK(journal_field_name("to") == "TETHERD_TO");
  CHECK(journal_field_name("a-b.c9") == "TETHERD_A_B_C9");
  CHECK(journal_field_name(std::string(100, 'k')).size() == 64);
  CHECK(journal_priority(EventLevel::debug) == 7);
  CHECK(journal_priority(EventLevel::info) == 6);
  CHECK(journal_priority(EventLevel::warn) == 4);
  CHECK(journal_priority(EventLevel::error) == 3);
}

TEST_CASE("an event's journal entry has the message, priority and one field per event field") {
  const Event event = sample_event();
  const std::vector<std::string> fields = journal_fields(event);
  REQUIRE(fields.size() >= 4);
  CHECK(fields[0].starts_with("MESSAGE=error: copy photos "));
  CHECK(tetherd::core::is_valid_utf8(fields[0]));
  CHECK(has(fields, "PRIORITY=3"));
  CHECK(has(fields, "SYSLOG_IDENTIFIER=tetherd"));
  CHECK(has(fields, "TETHERD_EVENT=copy"));
  CHECK(has(fields, "TETHERD_RULE=photos"));
  // The exact bytes, not the lossy rendering, and no base64 companion.
  CHECK(has(fields, std::string("TETHERD_PATH=bad\xff\nname.jpg")));
  CHECK(has(fields, "TETHERD_TO=ok/t\xC3\xA9st.jpg"));
  CHECK(std::none_of(fields.begin(), fields.end(),
                     [](const std::string& f) { return f.starts_with("TETHERD_PATH_BASE64"); }));
  CHECK(has(fields, "TETHERD_BYTES=123456"));
  CHECK(has(fields, "TETHERD_DURATION_MS=12.345"));
  CHECK(has(fields, "TETHERD_RESULT=error"));
  CHECK(has(fields, "TETHERD_ERROR=Permission denied"));
  CHECK(has(fields, "TETHERD_ERRC=permission_denied"));
  CHECK(has(fields, "TETHERD_RETRYABLE=false"));
  // The JSON line keeps its base64 field: only the journal drops it.
  CHECK(event.to_json().find("\"path_base64\"") != std::string::npos);
}

TEST_CASE("JOURNAL_STREAM detection compares device and inode with the descriptor") {
  TempDir dir{"tetherd-sd"};
  const std::string file = (dir.path() / "stream").string();
  const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  struct stat info {};
  REQUIRE(::fstat(fd, &info) == 0);
  const std::string device = std::to_string(static_cast<unsigned long long>(info.st_dev));
  const std::string inode = std::to_string(static_cast<unsigned long long>(info.st_ino));

  ::unsetenv("JOURNAL_STREAM");
  CHECK_FALSE(journal_stream_is(fd));
  ::setenv("JOURNAL_STREAM", (device + ":" + inode).c_str(), 1);
  CHECK(journal_stream_is(fd));
  ::setenv("JOURNAL_STREAM", (device + ":" + std::to_string(info.st_ino + 1)).c_str(), 1);
  CHECK_FALSE(journal_stream_is(fd));
  for (const char* malformed : {"", ":", "12", "x:1", "1:", "1:2:3", "-1:5"}) {
    ::setenv("JOURNAL_STREAM", malformed, 1);
    CHECK_FALSE(journal_stream_is(fd));
  }
  ::setenv("JOURNAL_STREAM", (device + ":" + inode).c_str(), 1);
  CHECK_FALSE(journal_stream_is(-1));
  ::unsetenv("JOURNAL_STREAM");
  ::close(fd);
}

TEST_CASE("sd_journal_sendv delivers every field byte-exact to journald's socket") {
  const int status = in_private_run([] {
    if (::mkdir("/run/systemd", 0755) != 0 || ::mkdir("/run/systemd/journal", 0755) != 0) {
      return fail("mkdir /run/systemd/journal");
    }
    DatagramSink journald("/run/systemd/journal/socket");
    const Event event = sample_event();
    if (!journal_available()) return fail("journal_available() misses the socket");
    if (send_to_journal(event) < 0) return fail("send_to_journal returned an error");
    const auto datagram = journald.receive(10000);
    if (!datagram) return fail("journald received nothing");
    const auto fields = parse_native(*datagram);
    if (!fields) return fail("malformed native protocol datagram");
    if (*fields != journal_fields(event)) {
      for (const auto& field : *fields)
        std::fprintf(stderr, "received: %s\n", tetherd::core::display_escape(field).c_str());
      for (const auto& field : journal_fields(event))
        std::fprintf(stderr, "expected: %s\n", tetherd::core::display_escape(field).c_str());
      return fail("fields differ from journal_fields()");
    }
    return 0;
  });
  CHECK(status == 0);
}

TEST_CASE("with the journal on, events go to journald and not to stderr; below level, nowhere") {
  const int status = in_private_run([] {
    if (::mkdir("/run/systemd", 0755) != 0 || ::mkdir("/run/systemd/journal", 0755) != 0) {
      return fail("mkdir /run/systemd/journal");
    }
    DatagramSink journald("/run/systemd/journal/socket");
    const int captured = capture_stderr();
    if (captured < 0) return fail("pipe");
    {
      EventLogOptions options;
      options.stderr_format = EventLogOptions::StderrFormat::human;
      options.journal = true;
      options.level = EventLevel::info;
      EventLog log(options);
      log.emit(Event(EventLevel::debug, "plan").path("hidden"));
      log.emit(Event(EventLevel::info, "ready").number("rules", 2));
      log.flush();
    }
    const auto datagram = journald.receive(10000);
    if (!datagram) return fail("journald received nothing");
    const auto fields = parse_native(*datagram);
    if (!fields || !has(*fields, "TETHERD_EVENT=ready") || !has(*fields, "TETHERD_RULES=2") ||
        !has(*fields, "PRIORITY=6")) {
      return fail("the ready event's fields are missing");
    }
    if (journald.receive(0)) return fail("a second entry (the debug event) was sent");
    if (!read_available(captured).empty()) return fail("the event was also written to stderr");
    return 0;
  });
  CHECK(status == 0);
}

TEST_CASE("when journald cannot be reached, events fall back to stderr") {
  const int status = in_private_run([] {
    const int captured = capture_stderr();
    if (captured < 0) return fail("pipe");
    {
      EventLogOptions options;
      options.journal = true;
      EventLog log(options);
      log.emit(Event(EventLevel::warn, "retry").rule("photos").path("a.jpg"));
    }
    const std::string text = read_available(captured);
    if (text.find("the systemd journal is not running") == std::string::npos) {
      return fail("no note that the journal is missing");
    }
    if (text.find("warn: retry photos a.jpg") == std::string::npos) {
      return fail("the event is not on stderr");
    }
    return 0;
  });
  CHECK(status == 0);
}
