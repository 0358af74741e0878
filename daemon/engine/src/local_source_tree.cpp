#include "tetherd/engine/local_source_tree.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tetherd/engine/source_file_source.hpp"
#include "tetherd/stores/errno_map.hpp"

namespace tetherd::daemon {
namespace {

using core::EntryType;
using core::Errc;
using core::Result;
using core::StoreError;

/// Closes a descriptor when it goes out of scope unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd) noexcept : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::int64_t to_ns(const struct timespec& time) noexcept {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

EntryType entry_type(mode_t mode) noexcept {
  if (S_ISREG(mode)) return EntryType::File;
  if (S_ISDIR(mode)) return EntryType::Directory;
  if (S_ISLNK(mode)) return EntryType::Symlink;
  return EntryType::Other;
}

SourceEntry entry_from_stat(std::string path, const struct stat& info) {
  SourceEntry entry;
  entry.path = std::move(path);
  entry.type = entry_type(info.st_mode);
  entry.size = entry.type == EntryType::Directory ? 0 : static_cast<std::uint64_t>(info.st_size);
  entry.mtime_ns = to_ns(info.st_mtim);
  entry.ctime_ns = to_ns(info.st_ctim);
  entry.mode = static_cast<std::uint32_t>(info.st_mode & 07777);
  entry.device = static_cast<std::uint64_t>(info.st_dev);
  entry.inode = static_cast<std::uint64_t>(info.st_ino);
  return entry;
}

/// readlinkat of `name` in `dir_fd`; the whole target whatever its length.
Result<std::string> read_link(int dir_fd, const char* name, std::uint64_t size_hint,
                              std::string_view relative) {
  std::string target(std::max<std::uint64_t>(size_hint, 64) + 1, '\0');
  for (;;) {
    const ssize_t length = ::readlinkat(dir_fd, name, target.data(), target.size());
    if (length < 0) return source_error(errno, relative, "readlink");
    if (static_cast<std::size_t>(length) < target.size()) {
      target.resize(static_cast<std::size_t>(length));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

std::pair<std::string_view, std::string_view> split_parent(std::string_view relative) {
  const auto slash = relative.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view{}, relative};
  return {relative.substr(0, slash), relative.substr(slash + 1)};
}

bool kernel_has_openat2() {
  static const bool available = [] {
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    const long fd = ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
      return true;
    }
    return errno != ENOSYS;
  }();
  return available;
}

}  // namespace

StoreError source_error(int error_number, std::string_view relative, std::string_view what) {
  StoreError error = StoreError::make(stores::errc_from_errno(error_number));
  error.store = "source";
  error.side = core::ErrorSide::source;
  error.key = std::string(relative);
  error.native_code = error_number;
  error.native_name = ::strerrorname_np(error_number) ? ::strerrorname_np(error_number) : "";
  error.detail = std::string(what) + ": " + std::strerror(error_number);
  return error;
}

LocalSourceTree::LocalSourceTree(std::string root, int root_fd, std::uint64_t device,
                                 std::uint64_t inode)
    : root_(std::move(root)), root_fd_(root_fd), root_device_(device), root_inode_(inode) {}

LocalSourceTree::~LocalSourceTree() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

Result<std::shared_ptr<LocalSourceTree>> LocalSourceTree::open(std::string root) {
  const int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return source_error(errno, "", "open source root " + root);
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error_number = errno;
    ::close(fd);
    return source_error(error_number, "", "stat source root " + root);
  }
  return std::shared_ptr<LocalSourceTree>(
      new LocalSourceTree(std::move(root), fd, static_cast<std::uint64_t>(info.st_dev),
                          static_cast<std::uint64_t>(info.st_ino)));
}

bool LocalSourceTree::root_intact() const {
  struct stat info {};
  if (::stat(root_.c_str(), &info) != 0) return false;
  return static_cast<std::uint64_t>(info.st_dev) == root_device_ &&
         static_cast<std::uint64_t>(info.st_ino) == root_inode_;
}

int LocalSourceTree::open_beneath_root(const std::string& path, int flags) const {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, root_fd_, path.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EAGAIN && errno != EINTR) return -1;  // EAGAIN: a concurrent rename; retry
  }
}

template <typename Open>
int LocalSourceTree::open_without_atime(int flags, Open&& open) const {
  if (!noatime_refused_.load(std::memory_order_relaxed)) {
    const int fd = open(flags | O_NOATIME);
    if (fd >= 0 || errno != EPERM) return fd;
    noatime_refused_.store(true, std::memory_order_relaxed);
  }
  return open(flags);
}

Result<int> LocalSourceTree::open_directory(std::string_view relative, bool for_reading) const {
  const int access = for_reading ? O_RDONLY : O_PATH;
  const std::string path = relative.empty() ? std::string(".") : std::string(relative);
  if (kernel_has_openat2()) {
    const auto open_beneath = [&](int flags) { return open_beneath_root(path, flags); };
    const int flags = access | O_DIRECTORY | O_CLOEXEC;
    const int fd = for_reading ? open_without_atime(flags, open_beneath) : open_beneath(flags);
    if (fd >= 0) return fd;
    return source_error(errno, relative, "open directory");
  }
  // No openat2: walk component by component, refusing symlinks at every step.
  int current = ::dup(root_fd_);
  if (current < 0) return source_error(errno, relative, "open directory");
  std::string_view rest = relative;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string component(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    const bool last = rest.empty();
    const int flags = (last ? access : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    const auto open_at = [&](int with) { return ::openat(current, component.c_str(), with); };
    const int next = last && for_reading ? open_without_atime(flags, open_at) : open_at(flags);
    const int error_number = errno;
    ::close(current);
    if (next < 0) return source_error(error_number, relative, "open directory");
    current = next;
  }
  if (for_reading && relative.empty()) {
    const int readable = open_without_atime(O_RDONLY | O_DIRECTORY | O_CLOEXEC, [&](int flags) {
      return ::openat(current, ".", flags);
    });
    const int error_number = errno;
    ::close(current);
    if (readable < 0) return source_error(error_number, relative, "open directory");
    current = readable;
  }
  return current;
}

Result<SourceEntry> LocalSourceTree::stat(std::string_view relative) const {
  struct stat info {};
  if (relative.empty()) {
    if (::fstat(root_fd_, &info) != 0) return source_error(errno, relative, "stat");
    return entry_from_stat({}, info);
  }
  const auto [parent, name] = split_parent(relative);
  auto dir = open_directory(parent, false);
  if (!dir) return std::move(dir).error();
  FdGuard dir_fd(*dir);
  const std::string name_text(name);
  if (::fstatat(dir_fd.get(), name_text.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    return source_error(errno, relative, "stat");
  }
  SourceEntry entry = entry_from_stat(std::string(relative), info);
  if (entry.type == EntryType::Symlink) {
    auto target = read_link(dir_fd.get(), name_text.c_str(), entry.size, relative);
    if (!target) return std::move(target).error();
    entry.link_target = std::move(*target);
  }
  return entry;
}

Result<std::vector<SourceEntry>> LocalSourceTree::list(std::string_view relative) const {
  auto dir = open_directory(relative, true);
  if (!dir) return std::move(dir).error();
  DIR* stream = ::fdopendir(*dir);
  if (stream == nullptr) {
    const int error_number = errno;
    ::close(*dir);
    return source_error(error_number, relative, "list");
  }
  const int dir_fd = ::dirfd(stream);
  std::vector<SourceEntry> entries;
  const std::string prefix = relative.empty() ? std::string() : std::string(relative) + "/";
  for (;;) {
    errno = 0;
    const struct dirent* item = ::readdir(stream);
    if (item == nullptr) {
      if (errno != 0) {
        const int error_number = errno;
        ::closedir(stream);
        return source_error(error_number, relative, "list");
      }
      break;
    }
    const std::string_view name = item->d_name;
    if (name == "." || name == "..") continue;
    struct stat info {};
    if (::fstatat(dir_fd, item->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // deleted meanwhile: its removal event follows
      const int error_number = errno;
      ::closedir(stream);
      return source_error(error_number, prefix + std::string(name), "stat");
    }
    SourceEntry entry = entry_from_stat(prefix + std::string(name), info);
    if (entry.type == EntryType::Symlink) {
      auto target = read_link(dir_fd, item->d_name, entry.size, entry.path);
      if (!target) {
        if (target.error().code == Errc::NotFound) continue;
        ::closedir(stream);
        return std::move(target).error();
      }
      entry.link_target = std::move(*target);
    }
    entries.push_back(std::move(entry));
  }
  ::closedir(stream);
  std::sort(entries.begin(), entries.end(),
            [](const SourceEntry& a, const SourceEntry& b) { return a.path < b.path; });
  return entries;
}

Result<OpenSourceFile> LocalSourceTree::open_file(std::string_view relative) const {
  if (relative.empty()) return source_error(EISDIR, relative, "open");
  constexpr int kFlags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int raw = -1;
  if (kernel_has_openat2()) {
    // One call resolves the whole path beneath the root, refusing a symlink anywhere in
    // it (ELOOP), the file itself included: what the walk below does in three.
    const std::string path(relative);
    raw = open_without_atime(kFlags, [&](int flags) { return open_beneath_root(path, flags); });
  } else {
    const auto [parent, name] = split_parent(relative);
    auto dir = open_directory(parent, false);
    if (!dir) return std::move(dir).error();
    FdGuard dir_fd(*dir);
    const std::string name_text(name);
    raw = open_without_atime(
        kFlags, [&](int flags) { return ::openat(dir_fd.get(), name_text.c_str(), flags); });
  }
  FdGuard fd(raw);
  if (fd.get() < 0) {
    if (errno != ELOOP) return source_error(errno, relative, "open");
    // O_NOFOLLOW on a symlink gives ELOOP (so does a symlink above it, with openat2): it
    // is not a regular file of the tree.
    StoreError error = source_error(ELOOP, relative, "open");
    error.detail = "is a symbolic link (or lies beneath one), not a regular file";
    return error;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return source_error(errno, relative, "stat");
  if (S_ISDIR(info.st_mode)) return source_error(EISDIR, relative, "open");
  if (!S_ISREG(info.st_mode)) {
    StoreError error = source_error(EINVAL, relative, "open");
    error.code = Errc::InvalidPath;
    error.detail = "not a regular file (device, socket or FIFO): not mirrored";
    return error;
  }
  // O_NONBLOCK only guarded the open against FIFOs; reads of a regular file ignore it.
  OpenSourceFile file;
  file.state = entry_from_stat(std::string(relative), info);
  file.fd = fd.release();
  return file;
}

std::shared_ptr<core::ByteSource> LocalSourceTree::reader(core::Executor& executor,
                                                          SourceEntry expected) const {
  return std::make_shared<SourceFileSource>(executor, shared_from_this(), std::move(expected));
}

Result<void> LocalSourceTree::create_marker(std::string_view name) const {
  const std::string file(name);
  const int fd =
      ::openat(root_fd_, file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return source_error(errno, name, "create");
  ::close(fd);
  return {};
}

void LocalSourceTree::remove_marker(std::string_view name) const {
  ::unlinkat(root_fd_, std::string(name).c_str(), 0);
}

std::int64_t LocalSourceTree::now_ns() const {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return to_ns(now);
}

}  // namespace tetherd::daemon
