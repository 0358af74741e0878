// ControlServer against hostile or mistaken surroundings: what already is at the socket's
// path, the socket's mode while it is made, and clients that send without reading.

#include "tetherd/service/control_socket.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "support/temp_dir.hpp"

using tetherd::daemon::ControlServer;
using tetherd::daemon::Event;
using tetherd::daemon::EventLevel;
using tetherd::test_support::TempDir;

namespace {

/// A libuv loop that outlives the servers declared after it, and closes cleanly.
struct Loop {
  uv_loop_t loop{};
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
};

ControlServer::Handler answer_with(std::string text) {
  return [text](std::string_view, std::function<void(std::string)> reply) { reply(text); };
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

/// A connected, non-blocking client socket, or -1.
int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const sockaddr_un address = address_of(path);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool no_private_directory_left(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with(".tetherd-socket-")) return false;
  }
  return true;
}

constexpr auto kGiveUp = std::chrono::seconds(60);  // a failing test, not a slow machine

}  // namespace

TEST_CASE("a regular file at the socket path is refused by name and left as it was") {
  TempDir dir("control-socket");
  const std::string path = dir.path().string() + "/control.sock";
  std::ofstream(path) << "precious";
  Loop loop;
  ControlServer server(&loop.loop, answer_with("{}"));
  auto listening = server.listen(path);
  REQUIRE_FALSE(listening.ok());
  CHECK(listening.error().message().find(path) != std::string::npos);
  CHECK(listening.error().message().find("not a socket") != std::string::npos);
  CHECK(read_file(path) == "precious");
  CHECK(no_private_directory_left(dir.path().string()));
}

TEST_CASE("a symbolic link at the socket path is refused and neither it nor its target changes") {
  TempDir dir("control-socket");
  const std::string target = dir.path().string() + "/target";
  const std::string path = dir.path().string() + "/control.sock";
  std::ofstream(target) << "precious";
  std::filesystem::create_symlink(target, path);
  const std::string dangling = dir.path().string() + "/dangling.sock";
  std::filesystem::create_symlink(dir.path().string() + "/nothing", dangling);
  Loop loop;
  ControlServer server(&loop.loop, answer_with("{}"));
  for (const std::string& at : {path, dangling}) {
    auto listening = server.listen(at);
    REQUIRE_FALSE(listening.ok());
    CHECK(listening.error().message().find(at) != std::string::npos);
    CHECK(std::filesystem::is_symlink(at));
  }
  CHECK(read_file(target) == "precious");
  CHECK_FALSE(std::filesystem::exists(dir.path().string() + "/nothing"));
}

TEST_CASE("a stale socket is replaced, a live one is not") {
  TempDir dir("control-socket");
  const std::string path = dir.path().string() + "/control.sock";
  {  // a socket file nobody listens on (its daemon crashed)
    const int stale = ::socket(AF_UNIX, SOCK_STREAM, 0);
    const sockaddr_un address = address_of(path);
    REQUIRE(::bind(stale, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    ::close(stale);
  }
  Loop loop;
  ControlServer first(&loop.loop, answer_with("{}"));
  REQUIRE(first.listen(path).ok());
  struct stat listening {};
  REQUIRE(::lstat(path.c_str(), &listening) == 0);
  CHECK(S_ISSOCK(listening.st_mode));
  const int client = connect_to(path);
  CHECK(client >= 0);
  if (client >= 0) ::close(client);

  ControlServer second(&loop.loop, answer_with("{}"));
  auto refused = second.listen(path);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == tetherd::core::Errc::AlreadyExists);
  CHECK(refused.error().message().find(path) != std::string::npos);
  struct stat after {};
  REQUIRE(::lstat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == listening.st_ino);  // the first daemon's socket is still there
  CHECK(no_private_directory_left(dir.path().string()));
}

TEST_CASE("the socket appears with mode 0660 and is never changed after, whatever the umask") {
  TempDir dir("control-socket");
  const std::string path = dir.path().string() + "/control.sock";
  const int watch = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  REQUIRE(watch >= 0);
  REQUIRE(::inotify_add_watch(watch, dir.path().c_str(), IN_CREATE | IN_MOVED_TO | IN_ATTRIB) >= 0);
  Loop loop;
  ControlServer server(&loop.loop, answer_with("{}"));
  const mode_t saved = ::umask(0);
  auto listening = server.listen(path);
  ::umask(saved);
  REQUIRE(listening.ok());
  struct stat info {};
  REQUIRE(::lstat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0660);
  // The directory saw the socket's name appear, and no change of its attributes after
  // (a chmod after bind would show as IN_ATTRIB: a moment with mode 0777).
  bool appeared = false;
  bool changed_after = false;
  alignas(inotify_event) char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(watch, buffer, sizeof buffer);
    if (got <= 0) break;
    for (ssize_t at = 0; at < got;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      if (event->len > 0 && std::string(event->name) == "control.sock") {
        if (event->mask & (IN_CREATE | IN_MOVED_TO)) appeared = true;
        if (event->mask & IN_ATTRIB) changed_after = true;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
    }
  }
  ::close(watch);
  CHECK(appeared);
  CHECK_FALSE(changed_after);
  CHECK(no_private_directory_left(dir.path().string()));
}

TEST_CASE("a client that never reads its replies is dropped with a warning") {
  TempDir dir("control-socket");
  const std::string path = dir.path().string() + "/control.sock";
  Loop loop;
  std::optional<Event> warning;
  ControlServer server(&loop.loop, answer_with(std::string(16 * 1024, 'x')),
                       [&warning](const Event& event) { warning = event; });
  REQUIRE(server.listen(path).ok());
  const int client = connect_to(path);
  REQUIRE(client >= 0);
  const std::string request = "{\"command\":\"status\"}\n";
  // Sends requests and never reads: without a bound the replies pile up in the daemon.
  // Four times the bound in replies, at most, so that a daemon without one fails the
  // test instead of filling the machine's memory.
  const std::size_t most = 4 * ControlServer::kMaxPendingOutput / (16 * 1024);
  std::size_t sent = 0;
  const auto give_up = std::chrono::steady_clock::now() + kGiveUp;
  while (!warning && std::chrono::steady_clock::now() < give_up) {
    if (sent<most&& ::send(client, request.data(), request.size(), MSG_NOSIGNAL)> 0) ++sent;
    uv_run(&loop.loop, UV_RUN_NOWAIT);
    int unread = 0;  // of what the client sent, what the daemon has not read yet
    if (sent == most && ::ioctl(client, SIOCOUTQ, &unread) == 0 && unread == 0) {
      uv_run(&loop.loop, UV_RUN_NOWAIT);  // it answers what it read
      break;
    }
  }
  REQUIRE(warning.has_value());
  CHECK(warning->level() == EventLevel::warn);
  CHECK(warning->name() == "control");
  CHECK(warning->text_field("result") == "dropped");
  // The daemon closed the connection: after the replies already sent, the client reads
  // the end of the stream.
  bool ended = false;
  char sink[65536];
  while (!ended && std::chrono::steady_clock::now() < give_up) {
    uv_run(&loop.loop, UV_RUN_NOWAIT);
    const ssize_t got = ::recv(client, sink, sizeof sink, 0);
    ended = got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
  }
  CHECK(ended);
  ::close(client);
}

TEST_CASE("a request line beyond the limit drops the client with a warning") {
  TempDir dir("control-socket");
  const std::string path = dir.path().string() + "/control.sock";
  Loop loop;
  std::optional<Event> warning;
  ControlServer server(&loop.loop, answer_with("{}"),
                       [&warning](const Event& event) { warning = event; });
  REQUIRE(server.listen(path).ok());
  const int client = connect_to(path);
  REQUIRE(client >= 0);
  const std::string endless(4096, 'a');  // no newline, ever
  bool disconnected = false;
  const auto give_up = std::chrono::steady_clock::now() + kGiveUp;
  while (!warning && !disconnected && std::chrono::steady_clock::now() < give_up) {
    const ssize_t sent = ::send(client, endless.data(), endless.size(), MSG_NOSIGNAL);
    disconnected = sent < 0 && (errno == EPIPE || errno == ECONNRESET);
    uv_run(&loop.loop, UV_RUN_NOWAIT);
  }
  REQUIRE(warning.has_value());
  CHECK(warning->name() == "control");
  CHECK(warning->text_field("result") == "dropped");
  ::close(client);
}
