// BackgroundFdWriter: a reader who stops reading never blocks the thread that submits; what
// cannot wait is dropped in whole lines and counted; everything else arrives in order.

#include "background_fd_writer.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>
#include <string>

namespace tetherd::daemon {
namespace {

struct Pipe {
  Pipe() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~Pipe() {
    for (const int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  /// Everything left in the pipe, once the writer has stopped writing.
  std::string drain() {
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    std::string text;
    char buffer[65536];
    for (ssize_t count; (count = ::read(fds[0], buffer, sizeof buffer)) > 0;)
      text.append(buffer, static_cast<std::size_t>(count));
    return text;
  }
  int fds[2] = {-1, -1};
};

std::string line(int number) {
  return "line " + std::to_string(number) + " " + std::string(100, 'x') + "\n";
}

TEST_CASE("submitting to a pipe nobody reads never waits; lines beyond the bound are dropped") {
  Pipe pipe;
  constexpr int kLines = 20'000;  // 2 MB: far beyond the pipe (64 KiB) and the bound
  auto writer = std::make_unique<BackgroundFdWriter>(pipe.fds[1], 256 * 1024);
  // Liveness, not speed: submitting must finish while nobody reads (a hang is the bug).
  auto submitted = std::async(std::launch::async, [&] {
    for (int number = 0; number < kLines; ++number)
      writer->submit(line(number));
  });
  REQUIRE(submitted.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  CHECK(writer->take_dropped() == 0);  // the failure has not ended: nothing written since

  // The reader comes back: what waited arrives whole and in order, then the count.
  std::string received;
  auto reader = std::async(std::launch::async, [&] {
    char buffer[65536];
    while (true) {
      const ssize_t count = ::read(pipe.fds[0], buffer, sizeof buffer);
      if (count <= 0) return;
      received.append(buffer, static_cast<std::size_t>(count));
    }
  });
  REQUIRE(writer->wait_drained(std::chrono::seconds(60)));
  writer->submit(line(kLines));  // a write that succeeds ends the failure
  REQUIRE(writer->wait_drained(std::chrono::seconds(60)));
  const std::uint64_t dropped = writer->take_dropped();
  writer.reset();
  ::close(pipe.fds[1]);
  pipe.fds[1] = -1;
  REQUIRE(reader.wait_for(std::chrono::seconds(60)) == std::future_status::ready);

  std::uint64_t lines = 0;
  int previous = -1;
  for (std::size_t start = 0; start < received.size();) {
    const std::size_t end = received.find('\n', start);
    REQUIRE(end != std::string::npos);  // whole lines only
    const std::string text = received.substr(start, end + 1 - start);
    const int number = std::stoi(text.substr(5));
    CHECK(text == line(number));
    CHECK(number > previous);  // in order
    previous = number;
    ++lines;
    start = end + 1;
  }
  CHECK(previous == kLines);
  CHECK(dropped > 0);
  CHECK(lines + dropped == kLines + 1);
}

TEST_CASE("a reader that keeps up has each line when submit returns") {
  // The order a reader sees events in and, say, a settle's reply: a line emitted before the
  // reply is there first.
  Pipe pipe;
  BackgroundFdWriter writer(pipe.fds[1]);
  writer.submit(line(1));
  CHECK(pipe.drain() == line(1));
  writer.submit(line(2));
  CHECK(pipe.drain() == line(2));
}

TEST_CASE("what is queued is written before the writer goes") {
  Pipe pipe;
  {
    BackgroundFdWriter writer(pipe.fds[1]);
    writer.submit(line(1));
    writer.submit(line(2));
  }
  CHECK(pipe.drain() == line(1) + line(2));
}

TEST_CASE("a closed reader loses lines without stopping the writer") {
  std::signal(SIGPIPE, SIG_IGN);  // as the daemon does (Daemon::run)
  Pipe pipe;
  ::close(pipe.fds[0]);
  pipe.fds[0] = -1;
  BackgroundFdWriter writer(pipe.fds[1]);
  writer.submit(line(1));  // EPIPE
  CHECK(writer.wait_drained(std::chrono::seconds(60)));
}

}  // namespace
}  // namespace tetherd::daemon
