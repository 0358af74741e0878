#pragma once

// Test support for watcher tests: a private libuv loop, a fresh temporary directory, the
// changes and errors a watcher reported, and run_until(): runs the loop until a condition
// holds or a deadline passes (never a fixed sleep).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "tetherd/watchers/inotify_watcher.hpp"
#include "tetherd/watchers/poll_watcher.hpp"
#include "tetherd/watchers/watcher.hpp"

namespace tetherd::test {

using core::Change;
using core::ChangeKind;
using namespace std::chrono_literals;

/// A scratch directory (test_support::TempDir) whose paths are std::string, as the watcher
/// API and the `tetherd watch` arguments take them: `dir / "a/b"` is "<dir>/a/b".
class TempDir {
 public:
  TempDir() : path_(dir_.path().string()) {}
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view relative) const {
    return path_ + "/" + std::string(relative);
  }

 private:
  test_support::TempDir dir_{"tetherd-watch"};
  std::string path_;
};

inline void write_file(const std::string& path, std::string_view content = "x") {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path);
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path);
}

inline void append_file(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  const bool ok =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot append to " + path);
}

inline void make_dirs(const std::string& path) {
  std::filesystem::create_directories(path);
}

inline void rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw std::runtime_error("rename " + from + " -> " + to + " failed");
  }
}

inline long read_proc_number(const char* path) {
  std::ifstream file(path);
  long value = 0;
  file >> value;
  return value;
}

// Applies hints to a model of which paths exist, the way a naive consumer would; for
// rescans the caller reconciles on its own.
inline void apply(std::set<std::string>& present, const Change& change) {
  switch (change.kind) {
    case ChangeKind::created:
    case ChangeKind::modified:
    case ChangeKind::attrib:
      present.insert(change.path);
      break;
    case ChangeKind::removed:
      present.erase(change.path);
      break;
    case ChangeKind::moved:
      present.erase(change.path);
      present.insert(change.to_path);
      break;
    case ChangeKind::rescan:
    case ChangeKind::root_gone:
      break;
  }
}

class WatchFixture {
 public:
  WatchFixture() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &tick_);
  }
  ~WatchFixture() {
    watcher.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  WatchFixture(const WatchFixture&) = delete;
  WatchFixture& operator=(const WatchFixture&) = delete;

  uv_loop_t* loop() { return &loop_; }
  std::string root() const { return dir.path(); }

  watchers::WatcherOptions options() {
    watchers::WatcherOptions options;
    options.root = dir.path();
    options.on_changes = [this](std::vector<Change>&& batch) {
      ++batches;
      for (Change& change : batch)
        changes.push_back(std::move(change));
    };
    options.on_error = [this](const watchers::WatcherError& error) { errors.push_back(error); };
    return options;
  }

  /// Starts an inotify watcher on the temp dir; REQUIREs success.
  watchers::InotifyWatcher& start_inotify(
      watchers::WatcherOptions opts,
      std::shared_ptr<watchers::InotifyApi> api = watchers::system_inotify_api()) {
    auto created = std::make_unique<watchers::InotifyWatcher>(&loop_, std::move(opts), api);
    auto& reference = *created;
    watcher = std::move(created);
    start_error = watcher->start();
    if (start_error) throw std::runtime_error("start failed: " + start_error->message);
    return reference;
  }
  watchers::InotifyWatcher& start_inotify() { return start_inotify(options()); }

  /// Runs the loop until `done()` holds (true) or `limit` passes (false).
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 5, 5);
    bool held = done();
    while (!held && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
      held = done();
    }
    uv_timer_stop(&tick_);
    return held;
  }
  /// Runs the loop for at least `duration` of loop time (to observe that nothing arrives).
  void run_for(std::chrono::milliseconds duration) {
    const auto deadline = std::chrono::steady_clock::now() + duration;
    run_until([&] { return std::chrono::steady_clock::now() >= deadline; }, duration + 1s);
  }

  bool saw(ChangeKind kind, std::string_view path) const {
    for (const Change& change : changes) {
      if (change.kind == kind && change.path == path) return true;
    }
    return false;
  }
  bool saw_moved(std::string_view from, std::string_view to) const {
    for (const Change& change : changes) {
      if (change.kind == ChangeKind::moved && change.path == from && change.to_path == to) {
        return true;
      }
    }
    return false;
  }
  /// Whether some change names `path` (as path or as a move's destination).
  bool mentions(std::string_view path) const {
    for (const Change& change : changes) {
      if (change.path == path || change.to_path == path) return true;
    }
    return false;
  }
  std::set<std::string> model() const {
    std::set<std::string> present;
    for (const Change& change : changes)
      apply(present, change);
    return present;
  }

  TempDir dir;
  std::unique_ptr<watchers::Watcher> watcher;
  std::optional<watchers::WatcherError> start_error;
  std::vector<Change> changes;
  std::vector<watchers::WatcherError> errors;
  int batches = 0;

 private:
  uv_loop_t loop_{};
  uv_timer_t tick_{};
};

}  // namespace tetherd::test
