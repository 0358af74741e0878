#include "tetherd/watchers/inotify_watcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <limits>
#include <utility>

#include "uv_handles.hpp"

namespace tetherd::watchers {
namespace {

// At most this many reads per readiness callback, so a flood cannot starve the loop
// (uv_poll is level-triggered: the rest is read on the next iteration).
constexpr int max_reads_per_callback = 16;

struct DirectoryEntry {
  std::string name;
  bool is_dir;
};

// Lists a directory without following symlinks; a failure is returned as errno.
int list_directory(const std::string& path, std::vector<DirectoryEntry>& entries) {
  const int dir_fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dir_fd < 0) return errno;
  DIR* directory = ::fdopendir(dir_fd);
  if (directory == nullptr) {
    const int error = errno;
    ::close(dir_fd);
    return error;
  }
  while (const dirent* item = ::readdir(directory)) {
    const std::string_view name = item->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = item->d_type == DT_DIR;
    if (item->d_type == DT_UNKNOWN) {
      struct stat info {};
      if (::fstatat(dir_fd, item->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
      is_dir = S_ISDIR(info.st_mode);
    }
    entries.push_back(DirectoryEntry{std::string(name), is_dir});
  }
  ::closedir(directory);
  return 0;
}

bool is_absence(int error) noexcept {
  return error == ENOENT || error == ENOTDIR;
}

/// How long a directory that vanished from its parent's path waits for the rename that may
/// explain it (the kernel queues it just after the new path resolves).
constexpr std::uint64_t kLostPathPatienceMs = 100;

std::string read_sysctl(const char* path) {
  std::ifstream file(path);
  std::string value;
  if (!(file >> value)) return "unknown";
  return value;
}

// Directories below `path` (itself included) that `admits` lets us watch.
std::size_t count_directories(const std::string& root, const DirectoryFilter& admits) {
  std::size_t count = 0;
  std::vector<std::string> pending{std::string()};
  while (!pending.empty()) {
    std::string relative = std::move(pending.back());
    pending.pop_back();
    ++count;
    std::vector<DirectoryEntry> entries;
    list_directory(relative.empty() ? root : root + "/" + relative, entries);
    for (DirectoryEntry& entry : entries) {
      if (!entry.is_dir) continue;
      std::string child = core::join_relative(relative, entry.name);
      if (!admits || admits(child)) pending.push_back(std::move(child));
    }
  }
  return count;
}

bool is_under(std::string_view path, std::string_view prefix) {
  if (prefix.empty()) return true;
  return path.size() >= prefix.size() && path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

std::uint32_t inotify_watch_mask() noexcept {
  return IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |
         IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW | IN_ONLYDIR | IN_EXCL_UNLINK;
}

InotifyWatcher::InotifyWatcher(uv_loop_t* loop, WatcherOptions options,
                               std::shared_ptr<InotifyApi> api)
    : loop_(loop), options_(std::move(options)), api_(std::move(api)), root_(options_.root) {
  while (root_.size() > 1 && root_.back() == '/')
    root_.pop_back();
}

InotifyWatcher::~InotifyWatcher() {
  stop();
}

std::size_t InotifyWatcher::watched_directory_count() const {
  std::size_t count = 0;
  for (const auto& [wd, node] : nodes_)
    count += node->detached ? 0 : 1;
  for (const auto& [path, poller] : pollers_)
    count += poller->watched_directory_count();
  return count;
}

std::vector<std::string> InotifyWatcher::polled_subtrees() const {
  std::vector<std::string> subtrees;
  for (const auto& [path, poller] : pollers_)
    subtrees.push_back(path);
  return subtrees;
}

std::optional<WatcherError> InotifyWatcher::start() {
  if (running_) return std::nullopt;
  stopped_by_owner_ = false;
  auto fail = [this](int code, std::string message) {
    stop();
    return WatcherError{std::error_code(code, std::system_category()), "", std::move(message)};
  };
  struct stat info {};
  if (::stat(root_.c_str(), &info) != 0) {
    const int code = errno;
    return fail(code, "cannot watch '" + root_ + "': " + std::strerror(code));
  }
  if (!S_ISDIR(info.st_mode)) {
    return fail(ENOTDIR, "cannot watch '" + root_ + "': not a directory");
  }
  fd_ = api_->init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    const int code = errno;
    if (code == EMFILE) {
      return fail(code,
                  "cannot create an inotify instance: the per-user limit "
                  "fs.inotify.max_user_instances (currently " +
                      read_sysctl("/proc/sys/fs/inotify/max_user_instances") +
                      ") is reached; raise it with `sysctl fs.inotify.max_user_instances=N`");
    }
    return fail(code, std::string("cannot create an inotify instance: ") + std::strerror(code));
  }
  running_ = true;
  buffer_ = std::make_unique<std::byte[]>(read_buffer_size);

  const int root_wd = api_->add_watch(fd_, root_.c_str(), inotify_watch_mask());
  if (root_wd < 0) {
    const int code = errno;
    if (code != ENOSPC) {
      return fail(code, "cannot watch '" + root_ + "': " + std::strerror(code));
    }
  } else {
    auto root = std::make_unique<Node>();
    root->wd = root_wd;
    root_node_ = root.get();
    nodes_.emplace(root_wd, std::move(root));
  }

  poll_ = new uv_poll_t;
  if (const int status = uv_poll_init(loop_, poll_, fd_); status != 0) {
    delete poll_;
    poll_ = nullptr;
    return fail(-status, std::string("cannot poll the inotify descriptor: ") + uv_strerror(status));
  }
  poll_->data = this;
  uv_poll_start(poll_, UV_READABLE, &InotifyWatcher::on_readable);
  rename_timer_ = new uv_timer_t;
  uv_timer_init(loop_, rename_timer_);
  rename_timer_->data = this;
  flush_timer_ = new uv_timer_t;
  uv_timer_init(loop_, flush_timer_);
  flush_timer_->data = this;

  if (root_node_ == nullptr) {
    add_watch_failed("", ENOSPC, false);  // even the root is over the limit: poll all of it
  } else {
    ++walk_generation_;
    // All of it now: when start() returns, the whole tree is watched.
    walking_ = true;
    watch_tree(nullptr, "", "", false, root_node_->wd);
    walk_slice(std::numeric_limits<std::size_t>::max());
  }
  // Errors found while setting up are delivered from the loop, after start() returns.
  batch_.clear();
  if (!errors_.empty()) uv_timer_start(flush_timer_, &InotifyWatcher::on_flush_timer, 0, 0);
  return std::nullopt;
}

void InotifyWatcher::stop() {
  stopped_by_owner_ = true;
  batch_.clear();
  errors_.clear();
  tear_down();
}

void InotifyWatcher::tear_down() {
  running_ = false;
  if (poll_ != nullptr) {
    close_and_delete(poll_);  // uv_close stops polling before the descriptor is closed
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (rename_timer_ != nullptr) {
    close_and_delete(rename_timer_);
    rename_timer_ = nullptr;
  }
  if (flush_timer_ != nullptr) {
    close_and_delete(flush_timer_);
    flush_timer_ = nullptr;
  }
  if (walk_idle_ != nullptr) {
    close_and_delete(walk_idle_);
    walk_idle_ = nullptr;
  }
  walk_queue_.clear();
  resync_pending_ = false;
  // Nothing more will be walked: waiting syncs answer now (a stopped watcher answers at once).
  for (auto& waiter : std::exchange(walk_waiters_, {}))
    waiter();
  // A poller may be the one whose callback led here: stop it now, destroy it later.
  for (auto& [path, poller] : pollers_) {
    poller->stop();
    retired_pollers_.push_back(std::move(poller));
  }
  pollers_.clear();
  nodes_.clear();
  root_node_ = nullptr;
  pending_moves_.clear();
}

// ---- the tree of watched directories ----------------------------------------------------

InotifyWatcher::Node* InotifyWatcher::find_node(int wd) const {
  auto found = nodes_.find(wd);
  return found == nodes_.end() ? nullptr : found->second.get();
}

InotifyWatcher::Node* InotifyWatcher::child_of(Node* parent, std::string_view name) const {
  if (parent == nullptr) return nullptr;
  auto found = parent->children.find(name);
  return found == parent->children.end() ? nullptr : found->second;
}

std::string InotifyWatcher::relative_path(const Node* node) const {
  std::vector<const std::string*> names;
  for (const Node* at = node; at != nullptr && at != root_node_; at = at->parent) {
    names.push_back(&at->name);
  }
  std::string path;
  for (auto name = names.rbegin(); name != names.rend(); ++name) {
    if (!path.empty()) path.push_back('/');
    path += **name;
  }
  return path;
}

std::string InotifyWatcher::full_path(std::string_view relative) const {
  if (relative.empty()) return root_;
  std::string path = root_;
  if (path != "/") path.push_back('/');
  path.append(relative);
  return path;
}

bool InotifyWatcher::admits(std::string_view relative_dir) const {
  return relative_dir.empty() || !options_.watch_directory ||
         options_.watch_directory(relative_dir);
}

void InotifyWatcher::attach(Node* node, Node* parent, std::string name) {
  detach(node);
  node->detached = false;
  node->parent = parent;
  node->name = std::move(name);
  if (parent != nullptr) {
    Node*& slot = parent->children[node->name];
    if (slot != nullptr && slot != node) detach_subtree(slot);  // replaced by this one
    parent->children[node->name] = node;
  }
}

void InotifyWatcher::detach(Node* node) {
  if (node->parent != nullptr) {
    auto found = node->parent->children.find(node->name);
    if (found != node->parent->children.end() && found->second == node) {
      node->parent->children.erase(found);
    }
  }
  node->parent = nullptr;
}

// The directory is gone from the tree (deleted): its nodes wait for their IN_IGNORED.
void InotifyWatcher::detach_subtree(Node* node) {
  detach(node);
  std::vector<Node*> pending{node};
  while (!pending.empty()) {
    Node* at = pending.back();
    pending.pop_back();
    at->detached = true;
    for (auto& [name, child] : at->children)
      pending.push_back(child);
  }
}

// The directory left the watched tree (moved out, or now excluded): drop its watches. The
// kernel answers each inotify_rm_watch with IN_IGNORED, which frees the node.
void InotifyWatcher::unwatch_subtree(Node* node) {
  detach(node);
  std::vector<Node*> pending{node};
  while (!pending.empty()) {
    Node* at = pending.back();
    pending.pop_back();
    at->detached = true;
    api_->rm_watch(fd_, at->wd);
    for (auto& [name, child] : at->children)
      pending.push_back(child);
  }
}

void InotifyWatcher::forget(Node* node) {
  detach(node);
  for (auto& [name, child] : node->children) {
    child->parent = nullptr;
    child->detached = true;
  }
  node->children.clear();
  if (node == root_node_) root_node_ = nullptr;
  nodes_.erase(node->wd);
}

// The walk watches each directory FIRST and lists it next, so nothing created in between is
// lost. With `report_contents`, every entry found is reported as created.
void InotifyWatcher::watch_tree(Node* parent, std::string name, std::string relative,
                                bool report_contents, int known_wd) {
  walk_queue_.push_back(WalkItem{parent != nullptr ? parent->wd : -1, std::move(name),
                                 std::move(relative), report_contents, known_wd});
  // Nested calls (from the walk itself) only queue; the outer slice goes on.
  if (!walking_) walk_slice(options_.walk_slice);
}

void InotifyWatcher::walk_slice(std::size_t limit) {
  walking_ = true;
  for (std::size_t done = 0; done < limit && !walk_queue_.empty() && running_; ++done) {
    WalkItem item = std::move(walk_queue_.back());  // depth first: the queue stays short
    walk_queue_.pop_back();
    walk_one(std::move(item));
  }
  walking_ = false;
  if (!running_) return;
  if (!walk_queue_.empty()) {
    if (walk_idle_ == nullptr) {
      walk_idle_ = new uv_idle_t;
      uv_idle_init(loop_, walk_idle_);
      walk_idle_->data = this;
    }
    uv_idle_start(walk_idle_, &InotifyWatcher::on_walk_idle);
    return;
  }
  if (walk_idle_ != nullptr) uv_idle_stop(walk_idle_);
  walk_finished();
}

void InotifyWatcher::on_walk_idle(uv_idle_t* handle) noexcept {
  auto* self = static_cast<InotifyWatcher*>(handle->data);
  if (self == nullptr) return;
  try {
    self->walk_slice(self->options_.walk_slice);
    self->flush();
  } catch (...) {
    self->batch_.clear();
  }
}

void InotifyWatcher::walk_one(WalkItem item) {
  Node* parent = nullptr;
  if (item.parent_wd >= 0) {
    parent = find_node(item.parent_wd);
    if (parent == nullptr || parent->detached) return;  // gone since: its parent reports it
  }
  const std::string path = full_path(item.relative);
  const int wd =
      item.known_wd >= 0 ? item.known_wd : api_->add_watch(fd_, path.c_str(), inotify_watch_mask());
  if (wd < 0) {
    const int error = errno;
    if (is_absence(error) && parent != nullptr) {
      note_lost_path(*parent, std::move(item.name), item.report_contents);
      return;
    }
    add_watch_failed(item.relative, error, item.report_contents);
    return;
  }
  Node* node = find_node(wd);
  if (node == nullptr) {
    auto created = std::make_unique<Node>();
    created->wd = wd;
    node = created.get();
    nodes_.emplace(wd, std::move(created));
    attach(node, parent, std::move(item.name));
  } else if (node != root_node_) {
    // Already watched (same inode): a walk after overflow, or a rename we did not see.
    // Re-key it unless that would hang it below itself (bind-mount loops).
    bool loop = false;
    for (const Node* at = parent; at != nullptr; at = at->parent)
      loop |= at == node;
    if (loop) return;
    if (node->parent != parent || node->name != item.name || node->detached) {
      attach(node, parent, std::move(item.name));
    }
  } else if (parent != nullptr) {
    return;  // the root showed up inside itself (bind mount): never descend again
  }
  node->seen_in_walk = walk_generation_;

  std::vector<DirectoryEntry> entries;
  if (const int error = list_directory(path, entries); error != 0) {
    if (is_absence(error)) {
      // Watched, but its path went stale before the listing: list it at its new place.
      if (parent != nullptr) note_lost_path(*parent, std::move(item.name), item.report_contents);
      return;
    }
    report(WatcherError{std::error_code(error, std::system_category()), item.relative,
                        "cannot list directory '" + path + "': " + std::strerror(error) +
                            "; changes inside it are not seen"});
    return;
  }
  for (DirectoryEntry& entry : entries) {
    std::string child = core::join_relative(item.relative, entry.name);
    if (item.report_contents) emit(core::Change::created(child, entry.is_dir));
    if (entry.is_dir && admits(child)) {
      walk_queue_.push_back(
          WalkItem{node->wd, std::move(entry.name), std::move(child), item.report_contents});
    }
  }
}

void InotifyWatcher::walk_finished() {
  if (resync_pending_) {
    resync_pending_ = false;
    // Directories the re-walk did not meet are gone; their IN_IGNORED may have been lost
    // with the overflow, so forget them now (rm_watch of a dead wd fails harmlessly).
    std::vector<Node*> stale;
    for (auto& [wd, node] : nodes_) {
      if (node->seen_in_walk != walk_generation_) stale.push_back(node.get());
    }
    for (Node* node : stale) {
      api_->rm_watch(fd_, node->wd);
      forget(node);
    }
    // Every directory is watched again: the rescan the overflow asks for starts now.
    emit(core::Change::overflow());
  }
  if (walk_waiters_.empty()) return;
  // Delivered first: a waiter (settle) must find the walk's changes in the rule's queue.
  flush();
  for (auto& waiter : std::exchange(walk_waiters_, {}))
    waiter();
}

void InotifyWatcher::note_lost_path(const Node& parent, std::string name, bool report_contents) {
  lost_paths_.push_back(LostPath{parent.wd, std::move(name), relative_path(&parent),
                                 report_contents, uv_now(loop_) + kLostPathPatienceMs});
  arm_rename_timer();
}

// A directory that could not be watched or listed at the path its parent had then: either
// it is gone (its parent's queue reports that), or an ancestor was renamed in between. The
// kernel queues a rename's events just after the new path resolves, so once the queue has
// been drained a parent whose path changed since is tried again at its new place (it may be
// lost again, if renamed again meanwhile). A parent still at the same path is given until
// kLostPathPatienceMs for the rename to show up; then the directory counts as gone.
void InotifyWatcher::retry_lost_paths() {
  const std::uint64_t now = uv_now(loop_);
  std::vector<LostPath> lost = std::exchange(lost_paths_, {});
  for (LostPath& item : lost) {
    if (!running_) return;
    Node* parent = find_node(item.parent_wd);
    if (parent == nullptr || parent->detached) continue;
    std::string parent_now = relative_path(parent);
    if (parent_now == item.parent_path_then) {
      if (now < item.deadline_ms) lost_paths_.push_back(std::move(item));
      continue;
    }
    std::string relative = core::join_relative(parent_now, item.name);
    if (!admits(relative)) continue;
    watch_tree(parent, std::move(item.name), std::move(relative), item.report_contents);
  }
  arm_rename_timer();
}

void InotifyWatcher::resync_after_overflow() {
  if (root_node_ == nullptr) {
    emit(core::Change::overflow());
    return;
  }
  ++walk_generation_;
  resync_pending_ = true;  // walk_finished reports the overflow
  watch_tree(nullptr, "", "", false, root_node_->wd);
}

void InotifyWatcher::add_watch_failed(const std::string& relative, int error,
                                      bool report_contents) {
  const std::string path = full_path(relative);
  if (error == ENOENT || error == ENOTDIR) return;  // gone or replaced: its parent reports it
  if (error != ENOSPC) {
    report(WatcherError{std::error_code(error, std::system_category()), relative,
                        "cannot watch directory '" + path + "': " + std::strerror(error) +
                            "; changes inside it are not seen"});
    return;
  }
  if (!limit_reported_) {
    limit_reported_ = true;
    report_watch_limit(relative);
  }
  start_polling(relative, report_contents);
}

// The error names how many watches the tree needs: counting them walks the whole tree, so
// it runs on a worker and the error follows when the count is in.
void InotifyWatcher::report_watch_limit(const std::string& relative) {
  struct Count {
    uv_work_t request{};
    std::weak_ptr<InotifyWatcher*> owner;
    std::string root;
    DirectoryFilter filter;
    std::string relative;
    std::size_t needed = 0;
  };
  auto* count = new Count;
  count->request.data = count;
  count->owner = self_token_;
  count->root = root_;
  count->filter = options_.watch_directory;  // thread-safe, as the poll watcher's walk needs
  count->relative = relative;
  const int status = uv_queue_work(
      loop_, &count->request,
      [](uv_work_t* request) {
        auto* count = static_cast<Count*>(request->data);
        count->needed = count_directories(count->root, [&](std::string_view dir) {
          return dir.empty() || !count->filter || count->filter(dir);
        });
      },
      [](uv_work_t* request, int) {
        std::unique_ptr<Count> count(static_cast<Count*>(request->data));
        auto owner = count->owner.lock();
        if (!owner || !(*owner)->running_) return;
        InotifyWatcher& self = **owner;
        try {
          self.report(WatcherError{
              std::error_code(ENOSPC, std::system_category()), count->relative,
              "inotify watch limit reached: fs.inotify.max_user_watches is " +
                  read_sysctl("/proc/sys/fs/inotify/max_user_watches") + " and watching '" +
                  self.root_ + "' needs " + std::to_string(count->needed) +
                  " watches (one per directory) besides those other programs hold; raise it "
                  "with `sysctl fs.inotify.max_user_watches=N` (persist it in /etc/sysctl.d/). "
                  "Until then, directories over the limit are polled every " +
                  std::to_string(self.options_.poll_interval.count()) + " ms, starting with '" +
                  self.full_path(count->relative) + "'"});
          self.flush();
        } catch (...) {
          self.batch_.clear();
        }
      });
  if (status != 0) delete count;
}

// Polls `relative` (a subtree inotify cannot cover). With `report_contents` (a directory
// that just appeared) everything the poller's first walk finds is reported as created, as
// watch_tree does for the directories it lists.
void InotifyWatcher::start_polling(const std::string& relative, bool report_contents) {
  for (const auto& [path, poller] : pollers_) {
    if (is_under(relative, path)) return;  // already covered
  }
  WatcherOptions poll_options;
  poll_options.root = full_path(relative);
  poll_options.poll_interval = options_.poll_interval;
  if (options_.watch_directory) {
    poll_options.watch_directory = [filter = options_.watch_directory,
                                    prefix = relative](std::string_view dir) {
      return filter(core::join_relative(prefix, dir));
    };
  }
  poll_options.on_changes = [this, prefix = relative](std::vector<core::Change>&& changes) {
    std::vector<core::Change> forwarded;
    forwarded.reserve(changes.size());
    bool gone = false;
    for (core::Change& change : changes) {
      if (change.kind == core::ChangeKind::root_gone) {
        gone = true;  // the polled directory went away; inotify on its parent reports that
        continue;
      }
      change.path = core::join_relative(prefix, change.path);
      if (change.kind == core::ChangeKind::moved) {
        change.to_path = core::join_relative(prefix, change.to_path);
      }
      forwarded.push_back(std::move(change));
    }
    if (gone) retire_pollers_under(prefix);
    if (!forwarded.empty() && running_) options_.on_changes(std::move(forwarded));
  };
  poll_options.on_error = [this, prefix = relative](const WatcherError& error) {
    WatcherError forwarded = error;
    forwarded.path = core::join_relative(prefix, error.path);
    if (options_.on_error && running_) options_.on_error(forwarded);
  };
  auto poller = std::make_unique<PollWatcher>(loop_, std::move(poll_options));
  if (poller->start().has_value()) return;  // vanished meanwhile: its parent reports it
  if (report_contents) {
    for (const auto& [path, entry] : poller->snapshot()) {
      emit(core::Change::created(core::join_relative(relative, path), entry.is_dir()));
    }
  }
  pollers_.emplace(relative, std::move(poller));
}

void InotifyWatcher::retire_pollers_under(std::string_view relative) {
  for (auto at = pollers_.begin(); at != pollers_.end();) {
    if (is_under(at->first, relative)) {
      at->second->stop();
      retired_pollers_.push_back(std::move(at->second));
      at = pollers_.erase(at);
    } else {
      ++at;
    }
  }
}

// ---- reading and interpreting events ------------------------------------------------------

void InotifyWatcher::on_readable(uv_poll_t* handle, int status, int /*events*/) noexcept {
  auto* self = static_cast<InotifyWatcher*>(handle->data);
  if (self == nullptr) return;
  try {
    self->retired_pollers_.clear();
    if (status < 0) {
      self->report(WatcherError{
          std::error_code(-status, std::system_category()), "",
          std::string("polling the inotify descriptor failed: ") + uv_strerror(status)});
      self->emit(core::Change::rescan("", "poll error"));
    } else if (self->read_events() && !self->lost_paths_.empty()) {
      self->retry_lost_paths();
    }
    self->flush();
  } catch (...) {
    // noexcept boundary (out of memory, or a throwing consumer): the state stays consistent
    // at event granularity; tell the consumer to look again.
    self->batch_.clear();
  }
}

bool InotifyWatcher::read_events() {
  std::byte* buffer = buffer_.get();
  for (int reads = 0; reads < max_reads_per_callback && running_; ++reads) {
    const ssize_t length = api_->read(fd_, buffer, read_buffer_size);
    if (length < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        const int code = errno;
        report(WatcherError{std::error_code(code, std::system_category()), "",
                            std::string("reading inotify events failed: ") + std::strerror(code)});
        emit(core::Change::rescan("", "read error"));
        return false;
      }
      return true;
    }
    if (length == 0) return true;
    std::size_t offset = 0;
    const auto total = static_cast<std::size_t>(length);
    while (offset + sizeof(inotify_event) <= total && running_) {
      inotify_event header{};
      std::memcpy(&header, buffer + offset, sizeof header);
      const std::size_t name_space =
          std::min<std::size_t>(header.len, total - offset - sizeof header);
      const char* name = reinterpret_cast<const char*>(buffer + offset + sizeof header);
      handle_event(header.wd, header.mask, header.cookie,
                   std::string_view(name, ::strnlen(name, name_space)));
      offset += sizeof header + header.len;
    }
    // A read that left room for another event emptied the queue: skip the read that would
    // only say EAGAIN (level-triggered uv_poll calls again if more arrived meanwhile).
    if (total + sizeof(inotify_event) + NAME_MAX + 1 <= read_buffer_size) return running_;
  }
  return false;
}

void InotifyWatcher::handle_root_event(std::uint32_t mask) {
  if ((mask & IN_DELETE_SELF) != 0) return shut_down("deleted");
  if ((mask & IN_MOVE_SELF) != 0) return shut_down("moved");
  if ((mask & IN_UNMOUNT) != 0) return shut_down("unmounted");
  if ((mask & IN_IGNORED) != 0) return shut_down("watch removed");
}

void InotifyWatcher::handle_event(int wd, std::uint32_t mask, std::uint32_t cookie,
                                  std::string_view name) {
  if ((mask & IN_Q_OVERFLOW) != 0) {
    resync_after_overflow();
    return;
  }
  Node* node = find_node(wd);
  if (node == nullptr) {
    // A wd this watcher never knew (or forgot after an overflow). Its nearest known
    // ancestor is the root: look at everything again.
    if ((mask & IN_IGNORED) == 0) emit(core::Change::rescan("", "unknown watch descriptor"));
    return;
  }
  if (node == root_node_ && name.empty() &&
      (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED)) != 0) {
    handle_root_event(mask);
    return;
  }
  if ((mask & IN_IGNORED) != 0) {
    forget(node);
    return;
  }
  if (node->detached) return;  // left the tree; whatever it says now is not ours
  if ((mask & IN_UNMOUNT) != 0) {
    emit(core::Change::rescan(relative_path(node), "unmounted"));
    return;
  }
  if ((mask & IN_DELETE_SELF) != 0) {
    detach_subtree(node);  // the parent's IN_DELETE reports the removal
    return;
  }
  if ((mask & IN_MOVE_SELF) != 0) return;  // the parent's MOVED_FROM/TO report it

  const bool is_dir = (mask & IN_ISDIR) != 0;
  const std::string directory = relative_path(node);
  if (name.empty()) {  // about the watched directory itself
    if ((mask & IN_ATTRIB) != 0) emit(core::Change::attrib(directory, true));
    return;
  }
  std::string relative = core::join_relative(directory, name);

  if ((mask & IN_CREATE) != 0) {
    emit(core::Change::created(relative, is_dir, !is_dir));  // a file: its close may follow
    if (is_dir && admits(relative)) watch_tree(node, std::string(name), relative, true);
  } else if ((mask & IN_CLOSE_WRITE) != 0) {
    emit(core::Change::modified(std::move(relative)));
  } else if ((mask & IN_MODIFY) != 0) {
    emit(core::Change::modified(std::move(relative), true));  // the writer's close follows
  } else if ((mask & IN_ATTRIB) != 0) {
    // A directory that could not be watched (no permission) may be watchable now.
    const bool unwatched = is_dir && child_of(node, name) == nullptr && admits(relative);
    emit(core::Change::attrib(relative, is_dir));
    if (unwatched) watch_tree(node, std::string(name), relative, true);
  } else if ((mask & IN_DELETE) != 0) {
    if (is_dir) {
      if (Node* child = child_of(node, name)) detach_subtree(child);
      retire_pollers_under(relative);
    }
    emit(core::Change::removed(std::move(relative), is_dir));
  } else if ((mask & IN_MOVED_FROM) != 0) {
    PendingMove move;
    move.cookie = cookie;
    move.from = std::move(relative);
    move.is_dir = is_dir;
    if (Node* child = is_dir ? child_of(node, name) : nullptr) move.wd = child->wd;
    move.deadline_ms = uv_now(loop_) + static_cast<std::uint64_t>(options_.rename_timeout.count());
    pending_moves_.push_back(std::move(move));
    arm_rename_timer();
  } else if ((mask & IN_MOVED_TO) != 0) {
    auto pair = std::find_if(pending_moves_.begin(), pending_moves_.end(),
                             [cookie](const PendingMove& move) { return move.cookie == cookie; });
    if (pair != pending_moves_.end()) {
      PendingMove move = std::move(*pair);
      pending_moves_.erase(pair);
      complete_move(move, node, name, relative);
    } else {
      emit(core::Change::created(relative, is_dir));
      if (is_dir && admits(relative)) watch_tree(node, std::string(name), relative, true);
    }
  }
}

void InotifyWatcher::complete_move(const PendingMove& move, Node* new_parent, std::string_view name,
                                   const std::string& relative) {
  emit(core::Change::moved(move.from, relative, move.is_dir, move.cookie));
  if (!move.is_dir) return;
  Node* moved = move.wd >= 0 ? find_node(move.wd) : nullptr;
  if (moved != nullptr && moved->detached) moved = nullptr;
  const bool had_pollers = std::any_of(pollers_.begin(), pollers_.end(), [&](const auto& entry) {
    return is_under(entry.first, move.from);
  });
  retire_pollers_under(move.from);
  if (!admits(relative)) {
    if (moved != nullptr) unwatch_subtree(moved);
    return;
  }
  if (moved != nullptr) {
    attach(moved, new_parent, std::string(name));  // every descendant follows: O(1)
    // Polled parts moved along: walk again so they are watched (or polled) at the new path.
    if (had_pollers) watch_tree(new_parent, std::string(name), relative, true);
  } else {
    // It was not watched before (excluded or polled): watch it now and report its contents.
    watch_tree(new_parent, std::string(name), relative, true);
  }
}

// One timer for both deadlines: unpaired renames and directories whose path went stale.
void InotifyWatcher::sync(std::function<void()> done) {
  if (!running_) return done();
  if (!walk_queue_.empty()) {
    // The walk under way reports what it finds when it gets there; then sync again (the
    // walk may have started pollers).
    walk_waiters_.push_back([this, done = std::move(done)]() mutable { sync(std::move(done)); });
    return;
  }
  if (pollers_.empty()) {
    done();
    return;
  }
  // Every poller walks again; the last to report calls `done`. A poller retired meanwhile
  // answers from its stop().
  auto left = std::make_shared<std::size_t>(pollers_.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  std::vector<PollWatcher*> pollers;
  for (auto& [path, poller] : pollers_)
    pollers.push_back(poller.get());
  for (PollWatcher* poller : pollers) {
    poller->sync([left, shared_done] {
      if (--*left == 0) (*shared_done)();
    });
  }
}

void InotifyWatcher::arm_rename_timer() {
  if (rename_timer_ == nullptr || (pending_moves_.empty() && lost_paths_.empty())) return;
  std::uint64_t earliest = std::numeric_limits<std::uint64_t>::max();
  for (const PendingMove& move : pending_moves_)
    earliest = std::min(earliest, move.deadline_ms);
  for (const LostPath& lost : lost_paths_)
    earliest = std::min(earliest, lost.deadline_ms);
  const std::uint64_t now = uv_now(loop_);
  uv_timer_start(rename_timer_, &InotifyWatcher::on_rename_timer,
                 earliest > now ? earliest - now : 0, 0);
}

// MOVED_FROM without its MOVED_TO in time: the entry left the watched tree.
void InotifyWatcher::expire_moves(bool all) {
  const std::uint64_t now = uv_now(loop_);
  std::vector<PendingMove> expired;
  for (auto at = pending_moves_.begin(); at != pending_moves_.end();) {
    if (all || at->deadline_ms <= now) {
      expired.push_back(std::move(*at));
      at = pending_moves_.erase(at);
    } else {
      ++at;
    }
  }
  for (PendingMove& move : expired) {
    if (move.is_dir) {
      Node* moved = move.wd >= 0 ? find_node(move.wd) : nullptr;
      if (moved != nullptr && !moved->detached) unwatch_subtree(moved);
      retire_pollers_under(move.from);
    }
    emit(core::Change::removed(std::move(move.from), move.is_dir));
  }
  arm_rename_timer();
}

void InotifyWatcher::on_rename_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<InotifyWatcher*>(timer->data);
  if (self == nullptr) return;
  try {
    self->retired_pollers_.clear();
    self->expire_moves(false);
    // What is queued now includes any rename that made a lost path stale.
    if (!self->lost_paths_.empty() && self->read_events()) self->retry_lost_paths();
    self->flush();
  } catch (...) {
    self->batch_.clear();
  }
}

void InotifyWatcher::on_flush_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<InotifyWatcher*>(timer->data);
  if (self == nullptr) return;
  try {
    self->flush();
  } catch (...) {
    self->batch_.clear();
  }
}

// ---- delivery -----------------------------------------------------------------------------

void InotifyWatcher::emit(core::Change change) {
  // Adjacent duplicates (the MODIFY of each write() of one writer) carry no extra information.
  if (!batch_.empty() && batch_.back() == change) return;
  batch_.push_back(std::move(change));
}

void InotifyWatcher::report(WatcherError error) {
  errors_.push_back(std::move(error));
}

// Delivers queued errors, then the batch. A callback may call stop(): nothing is delivered
// after that.
void InotifyWatcher::flush() {
  std::vector<WatcherError> errors = std::exchange(errors_, {});
  for (const WatcherError& error : errors) {
    if (stopped_by_owner_) return;
    if (options_.on_error) options_.on_error(error);
  }
  if (batch_.empty() || stopped_by_owner_) return;
  std::vector<core::Change> batch = std::exchange(batch_, {});
  options_.on_changes(std::move(batch));
}

// The root is gone: report it once and stop watching. The batch (ending in root_gone) and
// any queued errors are still delivered by the flush that follows.
void InotifyWatcher::shut_down(std::string reason) {
  expire_moves(true);
  emit(core::Change::root_gone(std::move(reason)));
  tear_down();
}

}  // namespace tetherd::watchers
