// End-to-end tests of `tetherd watch`: run the built binary, change files, read its output
// with a deadline, stop it with a signal.
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "tetherd/core/text.hpp"
#include "watch_fixture.hpp"

extern char** environ;

using namespace tetherd;
using namespace tetherd::test;

namespace {

class WatchProcess {
 public:
  explicit WatchProcess(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), {TETHERD_BINARY, "watch"});
    int out[2];
    int err[2];
    REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<char*> argv;
    for (std::string& argument : arguments)
      argv.push_back(argument.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, TETHERD_BINARY, &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
  }
  ~WatchProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
    ::close(err_);
  }
  WatchProcess(const WatchProcess&) = delete;
  WatchProcess& operator=(const WatchProcess&) = delete;

  /// Reads output until `done(stdout lines, stderr text)` holds or the deadline passes.
  bool read_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      pump(10);
    }
    return true;
  }
  bool ready() {
    return read_until([&] { return err.find("watching ") != std::string::npos; });
  }
  bool has_line(std::string_view line) const {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  }
  /// Sends `signal` and waits (with a deadline) for the exit; returns the exit code or -1.
  int stop(int signal) {
    ::kill(pid_, signal);
    return wait_exit();
  }
  /// Like stop(), but never reads stdout while waiting.
  int stop_without_reading(int signal, std::chrono::milliseconds limit = 20s) {
    ::kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::poll(nullptr, 0, 5);
    }
    return -1;
  }
  int wait_exit(std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        while (pump(0)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pump(10);
    }
    return -1;
  }

  /// Bytes waiting unread in the stdout pipe.
  int unread_stdout_bytes() const {
    int bytes = 0;
    ::ioctl(out_, FIONREAD, &bytes);
    return bytes;
  }

  std::vector<std::string> lines;  // stdout, split at '\n'
  std::string err;

 private:
  // Reads what is available; returns whether anything was read.
  bool pump(int timeout_ms) {
    pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) <= 0) return false;
    bool any = false;
    char buffer[65536];
    if ((fds[0].revents & (POLLIN | POLLHUP)) != 0) {
      const ssize_t length = ::read(out_, buffer, sizeof buffer);
      if (length > 0) {
        any = true;
        partial_.append(buffer, static_cast<std::size_t>(length));
        std::size_t newline;
        while ((newline = partial_.find('\n')) != std::string::npos) {
          lines.push_back(partial_.substr(0, newline));
          partial_.erase(0, newline + 1);
        }
      }
    }
    if ((fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      const ssize_t length = ::read(err_, buffer, sizeof buffer);
      if (length > 0) {
        any = true;
        err.append(buffer, static_cast<std::size_t>(length));
      }
    }
    return any;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string partial_;
};

}  // namespace

TEST_CASE("tetherd watch prints events as they happen and exits 0 on SIGTERM") {
  TempDir dir;
  make_dirs(dir / "sub");
  WatchProcess watch({dir.path()});
  REQUIRE(watch.ready());
  CHECK(watch.err.find("watching 2 directories") != std::string::npos);
  write_file(dir / "sub/file");
  REQUIRE(watch.read_until([&] { return watch.has_line("CREATE sub/file"); }));
  make_dirs(dir / "newdir");
  REQUIRE(watch.read_until([&] { return watch.has_line("CREATE newdir/"); }));
  rename_path(dir / "sub/file", dir / "newdir/moved");
  REQUIRE(watch.read_until([&] { return watch.has_line("MOVE sub/file -> newdir/moved"); }));
  std::filesystem::remove(dir / "newdir/moved");
  REQUIRE(watch.read_until([&] { return watch.has_line("DELETE newdir/moved"); }));
  CHECK(watch.stop(SIGTERM) == 0);
}

TEST_CASE("tetherd watch exits 0 on SIGINT") {
  TempDir dir;
  WatchProcess watch({dir.path()});
  REQUIRE(watch.ready());
  CHECK(watch.stop(SIGINT) == 0);
}

TEST_CASE("tetherd watch on a missing or non-directory path exits 66 with a clear error") {
  TempDir dir;
  {
    WatchProcess watch({dir / "missing"});
    CHECK(watch.wait_exit() == 66);
    CHECK(watch.err.find("cannot watch '" + (dir / "missing") + "': No such file or directory") !=
          std::string::npos);
  }
  write_file(dir / "plain");
  {
    WatchProcess watch({dir.path(), dir / "plain"});
    CHECK(watch.wait_exit() == 66);
    CHECK(watch.err.find("not a directory") != std::string::npos);
  }
}

TEST_CASE("tetherd watch --json keeps lines valid JSON for non-UTF-8 names (path_base64)") {
  TempDir dir;
  WatchProcess watch({dir.path(), "--json"});
  REQUIRE(watch.ready());
  const std::string name = "caf\xE9\nx\"y";
  write_file(dir / name);
  write_file(dir / "plain");
  REQUIRE(watch.read_until([&] {
    return watch.lines.size() >= 2 && watch.lines.back().find("plain") != std::string::npos;
  }));
  bool found = false;
  for (const std::string& line : watch.lines) {
    INFO(line);
    const nlohmann::json event = nlohmann::json::parse(line);  // throws on invalid JSON/UTF-8
    CHECK(event["ts"].get<std::string>().size() == 24);
    CHECK(event["ts"].get<std::string>().back() == 'Z');
    CHECK(event.contains("event"));
    CHECK(event["is_dir"].is_boolean());
    if (event.contains("path_base64")) {
      CHECK(core::base64_decode(event["path_base64"].get<std::string>()) ==
            std::optional<std::string>(name));
      CHECK(event["path"] == core::utf8_lossy(name));
      found = found || event["event"] == "created";
    } else {
      CHECK(event["path"] == "plain");
    }
  }
  CHECK(found);
  CHECK(watch.stop(SIGTERM) == 0);
}

TEST_CASE("tetherd watch with several paths says which root - --exclude hides and skips") {
  TempDir first;
  TempDir second;
  make_dirs(first / "build/deep");
  // One GLOB per --exclude: the PATH after it stays a PATH.
  WatchProcess watch({first.path(), "--exclude", "build/", second.path(), "--exclude", "*.o"});
  REQUIRE(watch.ready());
  CHECK(watch.err.find("watching 2 directories") != std::string::npos);
  write_file(first / "build/deep/hidden");
  write_file(first / "x.o");
  write_file(first / "a");
  write_file(second / "b");
  REQUIRE(watch.read_until([&] {
    return watch.has_line("CREATE " + (first / "a")) && watch.has_line("CREATE " + (second / "b"));
  }));
  for (const std::string& line : watch.lines) {
    CHECK(line.find("hidden") == std::string::npos);
    CHECK(line.find("x.o") == std::string::npos);
  }
  CHECK(watch.stop(SIGTERM) == 0);
}

TEST_CASE("tetherd watch --poll reports changes through stat walks") {
  TempDir dir;
  WatchProcess watch({dir.path(), "--poll", "--poll-interval", "20"});
  REQUIRE(watch.ready());
  write_file(dir / "polled");
  REQUIRE(watch.read_until([&] { return watch.has_line("CREATE polled"); }));
  CHECK(watch.stop(SIGTERM) == 0);
}

TEST_CASE("tetherd watch reports ROOT_GONE and exits when every root is gone") {
  TempDir parent;
  make_dirs(parent / "root");
  WatchProcess watch({parent / "root"});
  REQUIRE(watch.ready());
  std::filesystem::remove_all(parent / "root");
  CHECK(watch.wait_exit() == 66);
  CHECK(watch.has_line("ROOT_GONE . (deleted)"));
}

TEST_CASE("tetherd watch exits 0 on SIGTERM even when nobody reads its output") {
  TempDir dir;
  WatchProcess watch({dir.path()});
  REQUIRE(watch.ready());
  // Fill most of the stdout pipe (64 KiB), then far more; the test reads none of it.
  make_dirs(dir / "flat");
  int created = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (watch.unread_stdout_bytes() < 40000 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 500; ++i)
      write_file(dir / ("flat/file" + std::to_string(created++)));
    ::poll(nullptr, 0, 10);
  }
  REQUIRE(watch.unread_stdout_bytes() >= 40000);
  for (int i = 0; i < 3000; ++i)
    write_file(dir / ("flat/more" + std::to_string(i)));
  CHECK(watch.stop_without_reading(SIGTERM) == 0);
}
