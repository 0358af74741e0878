#include "tetherd/watchers/poll_watcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "uv_handles.hpp"

namespace tetherd::watchers {

bool PollEntry::is_dir() const {
  return S_ISDIR(mode);
}

struct PollWatcher::Walk {
  uv_work_t request{};
  PollWatcher* owner = nullptr;  // null once the watcher stopped: the result is dropped
  std::uint64_t number = 0;      // the how-manieth walk begun
  std::string root;
  DirectoryFilter filter;
  // results
  int root_errno = 0;  // lstat of the root failed with this
  bool root_is_dir = false;
  std::uint64_t root_inode = 0;
  std::uint64_t root_device = 0;
  std::map<std::string, PollEntry> snapshot;
  std::vector<std::pair<std::string, int>> errors;  // relative dir, errno
};

namespace {

std::int64_t to_ns(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

PollEntry entry_from_stat(const struct stat& info) {
  PollEntry entry;
  entry.inode = info.st_ino;
  entry.mode = info.st_mode;
  entry.size = static_cast<std::uint64_t>(info.st_size);
  entry.mtime_ns = to_ns(info.st_mtim);
  entry.ctime_ns = to_ns(info.st_ctim);
  entry.links = info.st_nlink;
  return entry;
}

// Walks the tree below walk.root without following symlinks; one directory open at a time
// (names are read, the directory closed, then subdirectories are visited) so deep trees
// cannot exhaust file descriptors.
void run_walk(PollWatcher::Walk& walk) {
  struct stat root_info {};
  if (::lstat(walk.root.c_str(), &root_info) != 0) {
    walk.root_errno = errno;
    return;
  }
  walk.root_is_dir = S_ISDIR(root_info.st_mode);
  walk.root_inode = root_info.st_ino;
  walk.root_device = root_info.st_dev;
  if (!walk.root_is_dir) return;

  std::vector<std::string> pending{std::string()};
  while (!pending.empty()) {
    std::string relative = std::move(pending.back());
    pending.pop_back();
    const std::string full = relative.empty() ? walk.root : walk.root + "/" + relative;
    const int dir_fd = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dir_fd < 0) {
      if (errno != ENOENT && errno != ENOTDIR) walk.errors.emplace_back(relative, errno);
      continue;
    }
    DIR* directory = ::fdopendir(dir_fd);
    if (directory == nullptr) {
      walk.errors.emplace_back(relative, errno);
      ::close(dir_fd);
      continue;
    }
    while (const dirent* item = ::readdir(directory)) {
      const std::string_view name = item->d_name;
      if (name == "." || name == "..") continue;
      struct stat info {};
      if (::fstatat(dir_fd, item->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::string child = core::join_relative(relative, name);
      if (S_ISDIR(info.st_mode) && (!walk.filter || walk.filter(child))) {
        pending.push_back(child);
      }
      walk.snapshot.emplace(std::move(child), entry_from_stat(info));
    }
    ::closedir(directory);
  }
}

void walk_on_threadpool(uv_work_t* request) {
  run_walk(*static_cast<PollWatcher::Walk*>(request->data));
}

}  // namespace

PollWatcher::PollWatcher(uv_loop_t* loop, WatcherOptions options)
    : loop_(loop), options_(std::move(options)) {}

PollWatcher::~PollWatcher() {
  stop();
}

std::size_t PollWatcher::watched_directory_count() const {
  if (timer_ == nullptr) return 0;
  std::size_t directories = 1;  // the root
  for (const auto& [path, entry] : snapshot_) {
    if (entry.is_dir() && (!options_.watch_directory || options_.watch_directory(path))) {
      ++directories;
    }
  }
  return directories;
}

std::optional<WatcherError> PollWatcher::start() {
  if (timer_ != nullptr) return std::nullopt;
  Walk first;
  first.root = options_.root;
  first.filter = options_.watch_directory;
  run_walk(first);
  if (first.root_errno != 0 || !first.root_is_dir) {
    const int code = first.root_errno != 0 ? first.root_errno : ENOTDIR;
    return WatcherError{std::error_code(code, std::system_category()), "",
                        "cannot watch '" + options_.root + "': " + std::strerror(code)};
  }
  snapshot_ = std::move(first.snapshot);
  root_inode_ = first.root_inode;
  root_device_ = first.root_device;
  completed_walks_ = 1;
  stopped_ = false;
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  const auto interval = static_cast<std::uint64_t>(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(options_.poll_interval.count())));
  uv_timer_start(timer_, &PollWatcher::on_timer, interval, interval);
  report_errors(first);
  return std::nullopt;
}

void PollWatcher::sync(std::function<void()> done) {
  if (stopped_) {
    done();
    return;
  }
  // The walk in flight may have passed the place of a change already: the next one answers.
  sync_waiters_.emplace_back(walks_begun_ + 1, std::move(done));
  if (walk_in_flight_ == nullptr) begin_walk();
}

void PollWatcher::answer_sync_waiters(std::uint64_t walk_number) {
  std::vector<std::function<void()>> answered;
  for (auto it = sync_waiters_.begin(); it != sync_waiters_.end();) {
    if (it->first <= walk_number || stopped_) {
      answered.push_back(std::move(it->second));
      it = sync_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  // More waiters (they came while this walk ran): the next walk starts now, not at the tick.
  if (!sync_waiters_.empty() && walk_in_flight_ == nullptr && !stopped_) begin_walk();
  for (auto& done : answered)
    done();
}

void PollWatcher::stop() {
  stopped_ = true;
  if (!sync_waiters_.empty()) answer_sync_waiters(0);
  if (walk_in_flight_ != nullptr) {
    walk_in_flight_->owner = nullptr;  // the threadpool finishes it; the result is dropped
    walk_in_flight_ = nullptr;
  }
  if (timer_ != nullptr) {
    close_and_delete(timer_);
    timer_ = nullptr;
  }
}

void PollWatcher::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<PollWatcher*>(timer->data);
  if (self == nullptr || self->walk_in_flight_ != nullptr) return;
  try {
    self->begin_walk();
  } catch (...) {
    // Out of memory building the request: try again on the next tick.
  }
}

void PollWatcher::begin_walk() {
  auto walk = std::make_unique<Walk>();
  walk->owner = this;
  walk->root = options_.root;
  walk->filter = options_.watch_directory;
  walk->request.data = walk.get();
  walk->number = walks_begun_ + 1;
  const int status =
      uv_queue_work(loop_, &walk->request, &walk_on_threadpool, &PollWatcher::on_walk_done);
  if (status != 0) return;  // the callback never runs; the next tick tries again
  ++walks_begun_;
  walk_in_flight_ = walk.release();
}

void PollWatcher::on_walk_done(uv_work_t* request, int /*status*/) noexcept {
  std::unique_ptr<Walk> walk(static_cast<Walk*>(request->data));
  if (walk->owner == nullptr) return;
  PollWatcher* self = walk->owner;
  self->walk_in_flight_ = nullptr;
  try {
    self->finish_walk(*walk);
  } catch (...) {
    // noexcept boundary: a throwing consumer loses this batch; state already advanced.
  }
}

void PollWatcher::report_errors(Walk& walk) {
  if (!options_.on_error) return;
  for (const auto& [path, code] : walk.errors) {
    auto [where, inserted] = reported_errors_.emplace(path, code);
    if (!inserted && where->second == code) continue;  // said once is enough
    where->second = code;
    const std::string shown = path.empty() ? options_.root : options_.root + "/" + path;
    options_.on_error(WatcherError{std::error_code(code, std::system_category()), path,
                                   "cannot read directory '" + shown + "': " + std::strerror(code) +
                                       "; changes inside it are not seen"});
    if (stopped_) return;
  }
}

void PollWatcher::finish_walk(Walk& walk) {
  ++completed_walks_;
  std::vector<core::Change> batch;
  if (walk.root_errno != 0 || !walk.root_is_dir || walk.root_inode != root_inode_ ||
      walk.root_device != root_device_) {
    // The root vanished, became unreadable, or another inode now sits at its path.
    const char* reason = walk.root_errno == ENOENT ? "deleted"
                         : walk.root_errno != 0    ? "unreadable"
                                                   : "replaced";
    batch.push_back(core::Change::root_gone(reason));
    stop();
    options_.on_changes(std::move(batch));
    return;
  }

  std::map<std::string, PollEntry> previous = std::exchange(snapshot_, std::move(walk.snapshot));
  for (const auto& [path, entry] : snapshot_) {
    auto before = previous.find(path);
    if (before == previous.end()) {
      batch.push_back(core::Change::created(path, entry.is_dir()));
      continue;
    }
    const PollEntry& old = before->second;
    if (old.inode != entry.inode || old.is_dir() != entry.is_dir()) {
      batch.push_back(core::Change::removed(path, old.is_dir()));
      batch.push_back(core::Change::created(path, entry.is_dir()));
    } else if (!entry.is_dir() && (old.size != entry.size || old.mtime_ns != entry.mtime_ns)) {
      batch.push_back(core::Change::modified(path));
    } else if (old.ctime_ns != entry.ctime_ns || old.mode != entry.mode ||
               old.links != entry.links) {
      batch.push_back(core::Change::attrib(path, entry.is_dir()));
    }
    previous.erase(before);
  }
  for (const auto& [path, old] : previous) {
    batch.push_back(core::Change::removed(path, old.is_dir()));
  }
  report_errors(walk);
  if (!batch.empty() && !stopped_) options_.on_changes(std::move(batch));
  if (!sync_waiters_.empty()) answer_sync_waiters(walk.number);
}

}  // namespace tetherd::watchers
