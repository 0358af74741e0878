// test_support::free_port, spawn_logged, wait_gone and stop_process: the process plumbing
// of the server fixtures (tests/stores/s3_fixture.hpp, sftp_fixture.hpp).

#include "support/child_process.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/free_port.hpp"
#include "support/temp_dir.hpp"

using namespace tetherd::test_support;

TEST_CASE("free_port: a loopback port that a listener can take") {
  const int port = free_port();
  REQUIRE(port > 0);
  REQUIRE(port < 65536);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  CHECK(::listen(fd, 1) == 0);
  ::close(fd);
}

TEST_CASE("spawn_logged: stdout and stderr both land in the output file") {
  TempDir dir("tetherd-test-spawn");
  const std::string output = (dir.path() / "out.log").string();
  const pid_t pid = spawn_logged({"sh", "-c", "echo to-stdout; echo to-stderr >&2"}, output);
  REQUIRE(pid > 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "to-stdout\nto-stderr\n");
}

TEST_CASE("spawn_logged: a program that is not there is an exception naming it") {
  TempDir dir("tetherd-test-spawn");
  CHECK_THROWS_WITH_AS(spawn_logged({"tetherd-no-such-program"}, (dir.path() / "o").string()),
                       "cannot run tetherd-no-such-program", std::runtime_error);
}

TEST_CASE("stop_process: SIGTERM ends a process, and one ignoring it is killed after the grace") {
  TempDir dir("tetherd-test-spawn");
  const pid_t polite = spawn_logged({"sleep", "60"}, (dir.path() / "polite").string());
  stop_process(polite);
  CHECK(::kill(polite, 0) != 0);  // reaped: the PID no longer names a process of ours

  // exec keeps the shell's PID and the ignored SIGTERM, so the PID stopped is the one that
  // ignores it; "ready" says the trap is set.
  const std::string log = (dir.path() / "stubborn").string();
  const pid_t stubborn = spawn_logged({"sh", "-c", "trap '' TERM; echo ready; exec sleep 60"}, log);
  const auto ready = [&] {
    std::ifstream in(log);
    std::string line;
    return std::getline(in, line) && line == "ready";
  };
  for (int i = 0; i < 200 && !ready(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  REQUIRE(ready());
  const auto started = std::chrono::steady_clock::now();
  stop_process(stubborn, std::chrono::milliseconds(300));
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(300));
  CHECK(::kill(stubborn, 0) != 0);             // gone
  CHECK(::waitpid(stubborn, nullptr, 0) < 0);  // and already reaped
}
