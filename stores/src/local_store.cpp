#include "tetherd/stores/local_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <vector>

#include "beneath.hpp"
#include "hole_copy.hpp"
#include "mtime_clock.hpp"
#include "mtime_precision.hpp"
#include "publish_partition.hpp"
#include "tetherd/core/shared_trips.hpp"
#include "tetherd/stores/errno_map.hpp"
#include "tetherd/stores/fd_byte_source.hpp"

namespace tetherd::stores {

using namespace core;

namespace {

constexpr std::size_t kPullChunk = 1 << 20;  // chunk pulled from a non-file source
// Kernel-copy writes issued together share worker trips: at most this many per trip, in
// at least this many trips (the pool has at least 4 threads), see SharedTrips.
constexpr std::size_t kWritesPerTrip = 16;
constexpr std::size_t kMinWriteTrips = 4;
// A commit cycle's writes are linked by at most this many parallel jobs after its flush,
// one directory per job (partition_by_directory).
constexpr std::size_t kPublishJobs = 4;

// Immutable after open; shared with worker threads.
struct Shared {
  UniqueFd root;
  std::string root_path;
  LocalStoreOptions options;
  ResolveMode resolve_mode = ResolveMode::Auto;
  // Set once FICLONE answered that this file system cannot share extents, so later copies
  // skip the attempt (a property of the target file system, not of one file).
  mutable std::atomic<bool> clone_unsupported{false};
  // O_TMPFILE in use; cleared once the file system refuses it (or /proc is missing, which
  // linking an anonymous file into place needs).
  mutable std::atomic<bool> anonymous_temps{true};
  // linkat(AT_EMPTY_PATH) links an anonymous file by its descriptor, much cheaper than the
  // /proc/self/fd lookup, but needs CAP_DAC_READ_SEARCH: cleared once it is refused.
  mutable std::atomic<bool> empty_path_links{true};
};
using SharedPtr = std::shared_ptr<const Shared>;

StoreError cancelled() {
  return StoreError::make(Errc::Cancelled, "operation cancelled");
}

// A blocking job that ended without a result: only an exception escaping it (a bug).
StoreError internal_error() {
  return StoreError::make(Errc::IoError, "internal error in a blocking job");
}

StoreError symlink_not_file() {
  auto error = errno_error(ELOOP, "is a symbolic link, not a regular file");
  error.code = Errc::InvalidPath;  // the key is fine, but names a link where a file is needed
  return error;
}

TimePoint to_time_point(const timespec& time) {
  return TimePoint(std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec));
}

timespec to_timespec(TimePoint time) {
  auto since = time.time_since_epoch();
  auto seconds = std::chrono::floor<std::chrono::seconds>(since);
  timespec out{};
  out.tv_sec = static_cast<time_t>(seconds.count());
  out.tv_nsec = static_cast<long>((since - seconds).count());
  return out;
}

EntryType type_of(mode_t mode) {
  if (S_ISREG(mode)) return EntryType::File;
  if (S_ISDIR(mode)) return EntryType::Directory;
  if (S_ISLNK(mode)) return EntryType::Symlink;
  return EntryType::Other;
}

std::optional<std::string> read_link(int dir_fd, const std::string& name) {
  std::string target(4096, '\0');
  ssize_t length = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
  if (length < 0) return std::nullopt;
  target.resize(static_cast<std::size_t>(length));
  return target;
}

EntryInfo describe(const StoreKey& key, const struct stat& info) {
  EntryInfo entry;
  entry.key = key;
  entry.type = type_of(info.st_mode);
  entry.size = entry.type == EntryType::Directory ? 0 : static_cast<std::uint64_t>(info.st_size);
  entry.mtime = to_time_point(info.st_mtim);
  entry.mode = static_cast<std::uint32_t>(info.st_mode & 07777);
  return entry;
}

Result<void> check(int rc) {
  if (rc != 0) return errno_error(errno);
  return success();
}

Result<void> sync_fd(const Shared& shared, int fd) {
  if (!shared.options.durable) return success();
  return check(::fsync(fd));
}

// Directories whose entries an operation changed and that must be made durable before the
// operation completes. nullptr: fsync each at once. Otherwise the caller collects them and
// hands them to the committer, which makes many changes durable with one flush.
using ChangedDirs = std::vector<UniqueFd>;

Result<void> directory_changed(const Shared& shared, UniqueFd dir, ChangedDirs* changed) {
  if (changed && shared.options.durable) {
    changed->push_back(std::move(dir));
    return success();
  }
  return sync_fd(shared, dir.get());
}

// Copies [offset, offset + length) of `in` into the empty file `out`: FICLONE for a whole
// file where the file system shares extents, else its data only, by copy_file_range or
// read/write, leaving its holes holes (hole_copy.hpp). Returns the bytes copied: fewer than
// `length` when the source ended early.
Result<std::uint64_t> kernel_copy(const Shared& shared, int in, std::uint64_t offset,
                                  std::uint64_t length, int out, const OperationState* op) {
  struct stat info {};
  const bool described = ::fstat(in, &info) == 0;
  if (shared.options.allow_clone && offset == 0 && length > 0 && described &&
      static_cast<std::uint64_t>(info.st_size) == length &&
      !shared.clone_unsupported.load(std::memory_order_relaxed)) {
    // A clone shares the source's extents, holes included.
    if (::ioctl(out, FICLONE, in) == 0) return length;
    // EOPNOTSUPP/ENOTTY: the file system never shares extents (ext4, tmpfs); EXDEV or
    // EINVAL concern this pair of files only. Either way: copy instead.
    if (errno == EOPNOTSUPP || errno == ENOTTY) {
      shared.clone_unsupported.store(true, std::memory_order_relaxed);
    }
  }
  const bool walk_holes = !described || may_have_holes(info);
  return copy_data_keeping_holes(in, offset, length, out, walk_holes,
                                 shared.options.allow_copy_file_range, op);
}

// Writes at least this large check their destination before copying (fail fast).
constexpr std::uint64_t kFailFastBytes = 1 << 20;

Result<UniqueFd> open_parent(const Shared& shared, const StoreKey& key, bool create) {
  return open_dir_beneath(shared.root.get(), key.parent(), create, shared.resolve_mode);
}

// Whether `name` in `dir_fd` may receive a new file (a directory never; an existing entry
// only with overwrite). The rename re-checks atomically; this only fails fast.
Result<void> check_destination(int dir_fd, const std::string& name, bool overwrite) {
  struct stat info {};
  if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return success();
    return errno_error(errno);
  }
  if (S_ISDIR(info.st_mode)) return errno_error(EISDIR);
  if (!overwrite) return errno_error(EEXIST);
  return success();
}

// Why `name` in `dir_fd` refused a new file without overwrite: IsDirectory for a
// directory, else AlreadyExists.
StoreError destination_error(int dir_fd, const std::string& name) {
  struct stat info {};
  if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(info.st_mode)) {
    return errno_error(EISDIR);
  }
  return errno_error(EEXIST);
}

// A temporary file in the target directory: anonymous (O_TMPFILE: no name to clean up,
// not even after a crash) where the file system has it, else a hidden ".tetherd.tmp.*".
struct TempFile {
  UniqueFd fd;
  std::string name;  // empty while anonymous, and once published
};

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

// `mode`: the permission bits the file should end with; creating it with them saves the
// fchmod when umask and the directory's default ACL leave them alone (seal() checks).
Result<TempFile> create_temp(const Shared& shared, int dir_fd, mode_t mode = 0666) {
  if (shared.anonymous_temps.load(std::memory_order_relaxed)) {
    int fd = ::openat(dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
    if (fd >= 0) return TempFile{UniqueFd(fd), {}};
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return errno_error(errno);
    shared.anonymous_temps.store(false, std::memory_order_relaxed);  // no O_TMPFILE here
  }
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string name = make_temp_name();
    int fd =
        ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) return TempFile{UniqueFd(fd), std::move(name)};
    if (errno != EEXIST) return errno_error(errno);
  }
  return errno_error(EEXIST, "could not create a unique temporary file");
}

// linkat(2) of anonymous file `fd` as `name` in `dir_fd`: 0, or -1 with errno.
int link_anonymous(const Shared& shared, int fd, int dir_fd, const std::string& name) {
  if (shared.empty_path_links.load(std::memory_order_relaxed)) {
    if (::linkat(fd, "", dir_fd, name.c_str(), AT_EMPTY_PATH) == 0) return 0;
    // Without CAP_DAC_READ_SEARCH the kernel answers ENOENT; anything else is the answer.
    if (errno != ENOENT && errno != EPERM) return -1;
  }
  const std::string source = fd_path(fd);
  if (::linkat(AT_FDCWD, source.c_str(), dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) != 0) return -1;
  // The /proc path worked where the descriptor did not: no capability, stop trying it.
  shared.empty_path_links.store(false, std::memory_order_relaxed);
  return 0;
}

// Gives an anonymous temporary file a hidden name (to rename it over an existing entry).
Result<void> name_temp(const Shared& shared, int dir_fd, TempFile& temp) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string name = make_temp_name();
    if (link_anonymous(shared, temp.fd.get(), dir_fd, name) == 0) {
      temp.name = std::move(name);
      return success();
    }
    if (errno != EEXIST) return errno_error(errno);
  }
  return errno_error(EEXIST, "could not name a temporary file");
}

// Makes `temp` appear as `name` (same directory) in one atomic step: replacing what is
// there, or refusing to clobber it. On failure `temp` is left for discard_temp().
// `sync_dir`: fsync the directory afterwards (DURABLE), unless the caller syncs it later.
Result<void> publish(const Shared& shared, int dir_fd, TempFile& temp, const std::string& name,
                     bool overwrite, bool sync_dir = true) {
  if (temp.name.empty()) {
    // Anonymous: linking it in is atomic and never clobbers.
    if (link_anonymous(shared, temp.fd.get(), dir_fd, name) == 0) {
      return sync_dir ? sync_fd(shared, dir_fd) : success();
    }
    if (errno != EEXIST) return errno_error(errno);
    if (!overwrite) return destination_error(dir_fd, name);
    if (auto named = name_temp(shared, dir_fd, temp); !named) return named;
  }
  if (::renameat2(dir_fd, temp.name.c_str(), dir_fd, name.c_str(),
                  overwrite ? 0 : RENAME_NOREPLACE) != 0) {
    int error_number = errno;
    if (error_number == EINVAL && !overwrite) {
      // A file system without RENAME_NOREPLACE: link() refuses to clobber just as atomically.
      if (::linkat(dir_fd, temp.name.c_str(), dir_fd, name.c_str(), 0) != 0) {
        return errno_error(errno);
      }
      ::unlinkat(dir_fd, temp.name.c_str(), 0);
    } else if (error_number == EEXIST && !overwrite) {
      return destination_error(dir_fd, name);
    } else {
      return errno_error(error_number);
    }
  }
  temp.name.clear();
  return sync_dir ? sync_fd(shared, dir_fd) : success();
}

// Removes a temporary file that will not be published.
void discard_temp(int dir_fd, TempFile& temp) {
  if (!temp.name.empty()) ::unlinkat(dir_fd, temp.name.c_str(), 0);
  temp.name.clear();
  temp.fd.reset();
}

struct FileAttrs {
  std::optional<std::uint32_t> mode;
  std::optional<timespec> mtime;
};

// Applies attributes, syncs, and describes the written file before it is published.
// `sync`: fsync the file (DURABLE), unless the caller makes it durable later.
// The mode is set only where the file does not have it already (one created with it,
// see create_temp); chmod leaves the mtime alone, so the order does not matter.
Result<EntryInfo> seal(const Shared& shared, int fd, const StoreKey& key, const FileAttrs& attrs,
                       bool sync = true) {
  if (attrs.mtime) {
    timespec times[2] = {{0, UTIME_OMIT}, *attrs.mtime};
    if (auto r = check(::futimens(fd, times)); !r) return r.error();
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) return errno_error(errno);
  if (attrs.mode && (info.st_mode & 07777) != (*attrs.mode & 07777)) {
    if (auto r = check(::fchmod(fd, static_cast<mode_t>(*attrs.mode & 07777))); !r)
      return r.error();
    if (::fstat(fd, &info) != 0) return errno_error(errno);
  }
  if (sync) {
    if (auto r = sync_fd(shared, fd); !r) return r.error();
  }
  return describe(key, info);
}

Result<void> remove_tree(int dir_fd, const std::string& name);

// The sorted entry names of `dir_fd`, without the store's temporary files. `sweep`: also
// removes the temporary files a process that no longer runs left there (a crash); a
// temporary file of a running process, this one included, is its write in progress.
std::vector<std::string> list_names(int dir_fd, int& error_number, bool sweep = false) {
  std::vector<std::string> names;
  std::vector<std::string> stale;
  error_number = 0;
  int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    error_number = errno;
    return names;
  }
  DIR* dir = ::fdopendir(copy);
  if (!dir) {
    error_number = errno;
    ::close(copy);
    return names;
  }
  ::rewinddir(dir);
  errno = 0;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (is_temp_name(name)) {
      if (sweep && temp_is_stale(name)) stale.emplace_back(name);
      continue;
    }
    names.emplace_back(name);
  }
  ::closedir(dir);
  for (const auto& temp : stale)
    (void)remove_tree(dir_fd, temp);
  std::sort(names.begin(), names.end());
  return names;
}

// Removes `name` in `dir_fd` and everything beneath it, never following symlinks.
Result<void> remove_tree(int dir_fd, const std::string& name) {
  struct stat info {};
  if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) return errno_error(errno);
  if (!S_ISDIR(info.st_mode)) return check(::unlinkat(dir_fd, name.c_str(), 0));
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_error(errno);
  UniqueFd child(fd);
  DIR* dir = ::fdopendir(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!dir) return errno_error(errno);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string_view entry_name = entry->d_name;
    if (entry_name != "." && entry_name != "..") names.emplace_back(entry_name);
  }
  ::closedir(dir);
  for (const auto& entry_name : names) {
    if (auto removed = remove_tree(child.get(), entry_name); !removed) return removed;
  }
  return check(::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR));
}

// Copies entry `name` of `from_dir` to `to_name` in `to_dir` (which must not exist),
// recursively, preserving mode and mtime, never following symlinks.
Result<void> copy_tree(const Shared& shared, int from_dir, const std::string& name, int to_dir,
                       const std::string& to_name, const OperationState* op) {
  if (op && op->cancel_requested()) return cancelled();
  struct stat info {};
  if (::fstatat(from_dir, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) return errno_error(errno);
  timespec times[2] = {{0, UTIME_OMIT}, info.st_mtim};
  if (S_ISLNK(info.st_mode)) {
    auto target = read_link(from_dir, name);
    if (!target) return errno_error(errno);
    return check(::symlinkat(target->c_str(), to_dir, to_name.c_str()));
  }
  if (S_ISREG(info.st_mode)) {
    int in_fd = ::openat(from_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in_fd < 0) return errno_error(errno);
    UniqueFd in(in_fd);
    int out_fd = ::openat(to_dir, to_name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out_fd < 0) return errno_error(errno);
    UniqueFd out(out_fd);
    if (auto copied = kernel_copy(shared, in.get(), 0, static_cast<std::uint64_t>(info.st_size),
                                  out.get(), op);
        !copied) {
      return copied.error();
    }
    FileAttrs attrs{static_cast<std::uint32_t>(info.st_mode & 07777), info.st_mtim};
    auto sealed = seal(shared, out.get(), StoreKey(), attrs);
    if (!sealed) return sealed.error();
    return success();
  }
  if (!S_ISDIR(info.st_mode)) {
    return errno_error(EINVAL, "'" + printable(name) + "' is a special file; it cannot be copied");
  }
  if (::mkdirat(to_dir, to_name.c_str(), 0700) != 0) return errno_error(errno);
  int source_fd = ::openat(from_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (source_fd < 0) return errno_error(errno);
  UniqueFd source(source_fd);
  int target_fd =
      ::openat(to_dir, to_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (target_fd < 0) return errno_error(errno);
  UniqueFd target(target_fd);
  int error_number = 0;
  auto names = list_names(source.get(), error_number);
  if (error_number != 0) return errno_error(error_number);
  for (const auto& child : names) {
    if (auto copied = copy_tree(shared, source.get(), child, target.get(), child, op); !copied) {
      return copied;
    }
  }
  if (auto r = check(::fchmod(target.get(), info.st_mode & 07777)); !r) return r;
  if (auto r = check(::futimens(target.get(), times)); !r) return r;
  return sync_fd(shared, target.get());
}

// ---------------------------------------------------------------- worker operations

Result<EntryInfo> stat_entry(const Shared& shared, const StoreKey& key) {
  struct stat info {};
  if (key.is_root()) {
    if (::fstat(shared.root.get(), &info) != 0) return errno_error(errno);
    // The root directory was removed (rm -rf, an unmounted disk's lazy detach): nothing can
    // be written below it, and a directory made again at its path is another one.
    if (info.st_nlink == 0) return errno_error(ENOENT, "the store's root directory was removed");
    return describe(key, info);
  }
  auto dir = open_parent(shared, key, false);
  if (!dir) return dir.error();
  std::string name(key.name());
  if (::fstatat(dir->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error(errno);
  EntryInfo entry = describe(key, info);
  if (entry.type == EntryType::Symlink) entry.link_target = read_link(dir->get(), name);
  return entry;
}

// Opens `key` as a regular file for reading; the symlink and directory cases are refused.
Result<UniqueFd> open_regular(const Shared& shared, const StoreKey& key, struct stat& info) {
  auto dir = open_parent(shared, key, false);
  if (!dir) return dir.error();
  std::string name(key.name());
  int fd = ::openat(dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP) return symlink_not_file();
    return errno_error(errno);
  }
  UniqueFd file(fd);
  if (::fstat(file.get(), &info) != 0) return errno_error(errno);
  if (S_ISDIR(info.st_mode)) return errno_error(EISDIR);
  if (!S_ISREG(info.st_mode)) return errno_error(EINVAL, "not a regular file");
  return file;
}

Result<void> copy_entry(const Shared& shared, const StoreKey& from, const StoreKey& to,
                        bool overwrite, const OperationState* op) {
  struct stat info {};
  auto in = open_regular(shared, from, info);
  if (!in) return in.error();
  if (from == to) return success();
  auto dir = open_parent(shared, to, true);
  if (!dir) return dir.error();
  std::string name(to.name());
  if (auto ok = check_destination(dir->get(), name, overwrite); !ok) return ok;
  auto temp = create_temp(shared, dir->get(), info.st_mode & 07777);
  if (!temp) return temp.error();
  auto outcome = [&]() -> Result<void> {
    if (auto copied = kernel_copy(shared, in->get(), 0, static_cast<std::uint64_t>(info.st_size),
                                  temp->fd.get(), op);
        !copied) {
      return copied.error();
    }
    FileAttrs attrs{static_cast<std::uint32_t>(info.st_mode & 07777), info.st_mtim};
    if (auto sealed = seal(shared, temp->fd.get(), to, attrs); !sealed) return sealed.error();
    if (op && op->cancel_requested()) return cancelled();
    return publish(shared, dir->get(), *temp, name, overwrite);
  }();
  discard_temp(dir->get(), *temp);
  return outcome;
}

// Move across file systems (EXDEV): copy under a temporary name, publish, then delete the
// source. The source survives until the copy is complete.
Result<void> move_across(const Shared& shared, int from_dir, const std::string& from_name,
                         int to_dir, const std::string& to_name, bool overwrite,
                         const OperationState* op) {
  struct stat source {};
  if (::fstatat(from_dir, from_name.c_str(), &source, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno_error(errno);
  }
  struct stat existing {};
  if (::fstatat(to_dir, to_name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!overwrite) return errno_error(EEXIST);
    if (S_ISDIR(existing.st_mode) && !S_ISDIR(source.st_mode)) return errno_error(EISDIR);
    if (!S_ISDIR(existing.st_mode) && S_ISDIR(source.st_mode)) return errno_error(ENOTDIR);
  }
  std::string temp = make_temp_name();
  if (auto copied = copy_tree(shared, from_dir, from_name, to_dir, temp, op); !copied) {
    (void)remove_tree(to_dir, temp);
    return copied;
  }
  TempFile copy{UniqueFd(), temp};
  if (auto published = publish(shared, to_dir, copy, to_name, overwrite); !published) {
    (void)remove_tree(to_dir, temp);
    if (published.error().native_code == EEXIST && overwrite) return errno_error(ENOTEMPTY);
    return published;
  }
  if (auto removed = remove_tree(from_dir, from_name); !removed) return removed;
  return sync_fd(shared, from_dir);
}

Result<void> move_entry(const Shared& shared, const StoreKey& from, const StoreKey& to,
                        bool overwrite, const OperationState* op, ChangedDirs* changed) {
  auto from_dir = open_parent(shared, from, false);
  if (!from_dir) return from_dir.error();
  std::string from_name(from.name());
  struct stat info {};
  if (::fstatat(from_dir->get(), from_name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno_error(errno);
  }
  if (from == to) return success();
  if (S_ISDIR(info.st_mode) && to.is_within(from)) {
    return errno_error(EINVAL, "cannot move a directory into itself");
  }
  auto to_dir = open_parent(shared, to, true);
  if (!to_dir) return to_dir.error();
  std::string to_name(to.name());
  int rc = -1;
  if (shared.options.simulate_cross_device) {
    errno = EXDEV;
  } else {
    rc = ::renameat2(from_dir->get(), from_name.c_str(), to_dir->get(), to_name.c_str(),
                     overwrite ? 0 : RENAME_NOREPLACE);
  }
  if (rc != 0) {
    int error_number = errno;
    if (error_number == EXDEV) {
      return move_across(shared, from_dir->get(), from_name, to_dir->get(), to_name, overwrite, op);
    }
    if (error_number == EINVAL && !overwrite) {
      // No RENAME_NOREPLACE on this file system: check, then rename (not atomic here).
      struct stat existing {};
      if (::fstatat(to_dir->get(), to_name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
        return errno_error(EEXIST);
      }
      if (::renameat(from_dir->get(), from_name.c_str(), to_dir->get(), to_name.c_str()) != 0) {
        return errno_error(errno);
      }
    } else {
      if (error_number == EEXIST && overwrite) error_number = ENOTEMPTY;
      return errno_error(error_number);
    }
  }
  if (auto synced = directory_changed(shared, std::move(*to_dir), changed); !synced) return synced;
  return directory_changed(shared, std::move(*from_dir), changed);
}

Result<void> remove_entry(const Shared& shared, const StoreKey& key, bool missing_ok,
                          ChangedDirs* changed) {
  auto dir = open_parent(shared, key, false);
  Result<void> outcome = success();
  if (!dir) {
    outcome = dir.error();
  } else {
    std::string name(key.name());
    if (::unlinkat(dir->get(), name.c_str(), 0) != 0) {
      outcome = errno_error(errno);
    } else {
      outcome = directory_changed(shared, std::move(*dir), changed);
    }
  }
  if (!outcome && missing_ok && outcome.error().code == Errc::NotFound) return success();
  return outcome;
}

/// chmod of `name` in `dir_fd`, never following a symlink (refused instead).
Result<void> change_mode(int dir_fd, const std::string& name, std::uint32_t mode) {
  // glibc checks the entry through O_PATH|O_NOFOLLOW: a symlink is refused, never followed.
  if (::fchmodat(dir_fd, name.c_str(), static_cast<mode_t>(mode & 07777), AT_SYMLINK_NOFOLLOW) !=
      0) {
    if (errno == EOPNOTSUPP) {
      auto error = errno_error(errno, "symbolic links have no mode of their own");
      error.code = Errc::PermissionDenied;
      return error;
    }
    return errno_error(errno);
  }
  return success();
}

Result<void> make_directory(const Shared& shared, const StoreKey& key,
                            std::optional<std::uint32_t> mode, ChangedDirs* changed) {
  auto dir = open_parent(shared, key, true);
  if (!dir) return dir.error();
  std::string name(key.name());
  const bool created =
      ::mkdirat(dir->get(), name.c_str(), mode ? static_cast<mode_t>(*mode & 07777) : 0777) == 0;
  if (!created && errno != EEXIST) return errno_error(errno);
  if (!created || mode) {
    // What is there now: a directory found instead of made, or what the umask, a default
    // ACL or an inherited setgid bit made of the mode asked for.
    struct stat info {};
    if (::fstatat(dir->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno_error(errno);
    }
    if (!S_ISDIR(info.st_mode)) return errno_error(EEXIST, "exists and is not a directory");
    if (mode && (info.st_mode & 07777) != (*mode & 07777)) {
      if (auto set = change_mode(dir->get(), name, *mode); !set) return set;
    }
  }
  if (!created) return success();
  return directory_changed(shared, std::move(*dir), changed);
}

Result<void> remove_directory(const Shared& shared, const StoreKey& key, bool recursive,
                              ChangedDirs* changed) {
  auto dir = open_parent(shared, key, false);
  if (!dir) return dir.error();
  std::string name(key.name());
  struct stat info {};
  if (::fstatat(dir->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0)
    return errno_error(errno);
  if (!S_ISDIR(info.st_mode)) return errno_error(ENOTDIR);
  if (recursive) {
    if (auto removed = remove_tree(dir->get(), name); !removed) return removed;
  } else if (::unlinkat(dir->get(), name.c_str(), AT_REMOVEDIR) != 0) {
    return errno_error(errno);
  }
  return directory_changed(shared, std::move(*dir), changed);
}

Result<void> set_attributes(const Shared& shared, const StoreKey& key, const Attrs& attrs) {
  auto dir = open_parent(shared, key, false);
  if (!dir) return dir.error();
  std::string name(key.name());
  if (attrs.mode) {
    if (auto set = change_mode(dir->get(), name, *attrs.mode); !set) return set;
  }
  if (attrs.mtime) {
    timespec times[2] = {{0, UTIME_OMIT}, to_timespec(*attrs.mtime)};
    if (::utimensat(dir->get(), name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno_error(errno);
    }
  }
  return success();
}

Result<void> make_symlink(const Shared& shared, const StoreKey& key, const std::string& target,
                          ChangedDirs* changed) {
  auto dir = open_parent(shared, key, true);
  if (!dir) return dir.error();
  std::string name(key.name());
  if (::symlinkat(target.c_str(), dir->get(), name.c_str()) != 0) return errno_error(errno);
  return directory_changed(shared, std::move(*dir), changed);
}

Result<std::string> read_symlink(const Shared& shared, const StoreKey& key) {
  auto dir = open_parent(shared, key, false);
  if (!dir) return dir.error();
  auto target = read_link(dir->get(), std::string(key.name()));
  if (!target) {
    if (errno == EINVAL) return errno_error(EINVAL, "not a symbolic link");
    return errno_error(errno);
  }
  return *target;
}

// Runs `work` on a worker thread and completes `done` with its result on the loop.
template <typename T, typename Work>
void run_blocking(Executor& executor, Callback<T> done, Work work) {
  auto slot = std::make_shared<std::optional<Result<T>>>();
  executor.run_blocking([slot, work = std::move(work)]() mutable { slot->emplace(work()); },
                        [slot, done = std::move(done)] {
                          if (*slot) return done(std::move(**slot));
                          done(internal_error());
                        });
}

// ---------------------------------------------------------------- listing

class LocalEntryStream final : public EntryStream {
 public:
  struct Level {
    UniqueFd fd;
    StoreKey prefix;
    std::vector<std::string> names;
    std::size_t index = 0;
  };

  LocalEntryStream(Executor& executor, ListOptions options, Level first)
      : executor_(executor), options_(options) {
    levels_.push_back(std::move(first));
  }

  void next(Callback<std::vector<EntryInfo>> done) override {
    auto self = std::static_pointer_cast<LocalEntryStream>(shared_from_this());
    run_blocking<std::vector<EntryInfo>>(
        executor_,
        [self, done = std::move(done)](Result<std::vector<EntryInfo>> batch) {
          if (self->cancelled_.load(std::memory_order_acquire)) return done(cancelled());
          done(std::move(batch));
        },
        [self] { return self->produce(); });
  }
  void cancel() override { cancelled_.store(true, std::memory_order_release); }

 private:
  // Worker thread; one call at a time (the contract allows one next() in flight).
  Result<std::vector<EntryInfo>> produce() {
    std::vector<EntryInfo> batch;
    while (batch.size() < options_.batch_size && !levels_.empty()) {
      if (cancelled_.load(std::memory_order_acquire)) return cancelled();
      Level& top = levels_.back();
      if (top.index == top.names.size()) {
        levels_.pop_back();
        continue;
      }
      const std::string name = top.names[top.index++];
      int dir_fd = top.fd.get();
      auto key = top.prefix.join(name);
      if (!key) continue;  // not representable as a key (cannot happen for readdir names)
      struct stat info {};
      if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed since the directory was read
        return errno_error(errno);
      }
      EntryInfo entry = describe(*key, info);
      if (entry.type == EntryType::Symlink) entry.link_target = read_link(dir_fd, name);
      batch.push_back(entry);
      if (options_.recursive && entry.type == EntryType::Directory) {
        int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
          if (errno == ENOENT) continue;
          return errno_error(errno);
        }
        Level child{UniqueFd(fd), *key, {}, 0};
        int error_number = 0;
        child.names = list_names(child.fd.get(), error_number, true);
        if (error_number != 0) return errno_error(error_number);
        levels_.push_back(std::move(child));  // invalidates `top`; not used below
      }
    }
    return batch;
  }

  Executor& executor_;
  ListOptions options_;
  std::vector<Level> levels_;
  std::atomic<bool> cancelled_{false};
};

// ---------------------------------------------------------------- writing

// A change made on a worker that must be durable before it is reported: a sealed write
// waiting to be published, or a directory whose entries changed. The committer decides how.
class Commit {
 public:
  virtual ~Commit() = default;
  // Worker: makes this one change durable on its own (per-file fsyncs; a write also
  // publishes its file in between).
  virtual Result<void> commit_alone() = 0;
  // Worker, right after a flush made everything done so far durable: the step that must
  // come after its data is durable (a write publishes its file; a directory change has
  // none). What it does becomes durable at the next flush. false: nothing to do.
  virtual bool publishes() const { return false; }
  virtual Result<void> publish_after_flush() { return success(); }
  // The directory publish_after_flush() links into (publish jobs never share one).
  virtual std::string_view publish_directory() const { return {}; }
  // Worker: the flush failed before publish_after_flush(); release what is not published.
  virtual void abandon() {}
  // Loop: reports the outcome.
  virtual void complete(Result<void> outcome) = 0;
};
using CommitPtr = std::shared_ptr<Commit>;

// Group commit. A durable change must have its data durable before its name appears, and
// its name durable before it is reported: per file two fsyncs, each a device flush, which
// bounds a burst of small files at a few hundred per second. Instead one flush at a time
// runs (a cycle), on the executor's dedicated thread: on the threadpool it would wait
// behind every copy queued before it while the writes it releases hold their slots. A
// change that is ready joins the next cycle. A cycle flushes
// the file system once (syncfs), which makes durable the data of this cycle's writes and
// the names of the writes published before it started; then it reports those, reports its
// own directory changes, and hands its own writes to publish jobs (one directory each), which link
// them on several workers while the next cycle already flushes. A write whose publish job has
// linked it waits for the next cycle that starts after that: its flush confirms the name.
// So a burst costs one flush per cycle, the cycles follow each other without waiting for
// the links, and every change is still reported only after a flush that began after it
// was made. A change that arrives alone, with nothing unconfirmed or being published,
// keeps per-file fsyncs, so a lone edit never waits for unrelated dirty data on the file
// system. Loop thread only.
class Committer : public std::enable_shared_from_this<Committer> {
 public:
  Committer(SharedPtr shared, Executor& executor)
      : shared_(std::move(shared)), executor_(executor) {}

  void enqueue(CommitPtr change);

 private:
  // Starts a cycle unless one runs or nothing needs one.
  void maybe_start_cycle();
  void start_cycle();
  // After a cycle's flush (`flushed`: its outcome): publishes `writes` in a few parallel
  // jobs (or, when the flush failed, releases them); each lands in unconfirmed_.
  void publish(std::vector<CommitPtr> writes, const Result<void>& flushed);

  SharedPtr shared_;
  Executor& executor_;
  std::vector<CommitPtr> waiting_;
  std::vector<CommitPtr> unconfirmed_;  // linked, waiting for a flush that starts now
  std::size_t publishing_ = 0;          // publish jobs on workers
  bool running_ = false;
};
using CommitterPtr = std::shared_ptr<Committer>;

// Directories whose entries changed (mkdir, unlink, rename, symlink), made durable by the
// committer before the operation is reported.
class DirectoryChange final : public Commit {
 public:
  DirectoryChange(SharedPtr shared, ChangedDirs dirs, Callback<void> done)
      : shared_(std::move(shared)), dirs_(std::move(dirs)), done_(std::move(done)) {}

  Result<void> commit_alone() override {
    for (const auto& dir : dirs_) {
      if (auto synced = sync_fd(*shared_, dir.get()); !synced) return synced;
    }
    return success();
  }
  void complete(Result<void> outcome) override {
    dirs_.clear();
    done_(std::move(outcome));
  }

 private:
  SharedPtr shared_;
  ChangedDirs dirs_;
  Callback<void> done_;
};

// What the writes of one worker trip share: the parent directory opened last, which the
// next write into the same directory uses again (a burst writes directory by directory).
struct WriteScratch {
  StoreKey parent;
  std::shared_ptr<const UniqueFd> dir;
};
using WriteTripsPtr = std::shared_ptr<SharedTrips<WriteScratch>>;

class LocalWrite final : public Commit, public std::enable_shared_from_this<LocalWrite> {
 public:
  LocalWrite(SharedPtr shared, CommitterPtr committer, WriteTripsPtr trips, Executor& executor,
             StoreKey key, ByteSourcePtr source, WriteOptions options, OperationRef op,
             Callback<EntryInfo> done)
      : shared_(std::move(shared)),
        committer_(std::move(committer)),
        trips_(std::move(trips)),
        executor_(executor),
        key_(std::move(key)),
        source_(std::move(source)),
        options_(options),
        op_(std::move(op)),
        done_(std::move(done)) {}

  void start() {
    auto self = shared_from_this();
    const bool kernel = source_->opens_on_worker() || source_->file_region().has_value();
    if (kernel && trips_) {
      // A local file: opened, copied in the kernel and sealed in one job, which shares its
      // worker trip (and the parent directory) with the writes issued in this loop turn.
      auto slot = std::make_shared<std::optional<Result<Step>>>();
      trips_->submit(
          [self, slot](WriteScratch& scratch) { slot->emplace(self->copy_on_worker(&scratch)); },
          [self, slot] {
            if (!*slot) return self->done_(internal_error());
            self->after_step(std::move(**slot));
          });
      return;
    }
    run_blocking<Step>(
        executor_,
        [self, kernel](Result<Step> prepared) {
          if (!kernel && prepared && prepared->stage == Stage::more_data) {
            if (self->op_->cancel_requested()) return self->abort(cancelled());
            self->op_->set_cancel_hook([source = self->source_] { source->cancel(); });
          }
          self->after_step(std::move(prepared));
        },
        [self]() { return self->copy_on_worker(nullptr); });
  }

  // Commit (worker): fsync the file, publish it, fsync the directory.
  Result<void> commit_alone() override { return publish_sealed(true); }
  bool publishes() const override { return true; }
  // Commit (worker): a flush made the data durable; publish (the next flush confirms it).
  Result<void> publish_after_flush() override { return publish_sealed(false); }
  std::string_view publish_directory() const override { return key_.parent_str(); }
  void abandon() override { discard(); }
  // Commit (loop): reports the outcome.
  void complete(Result<void> outcome) override {
    if (!outcome) return done_(std::move(outcome).error());
    done_(std::move(sealed_));
  }

 private:
  enum class Stage { more_data, committing, done };
  struct Step {
    Stage stage = Stage::more_data;
    EntryInfo info;
  };

  // Worker: makes the sealed temporary file appear under its key. `sync_each`: fsync the
  // file before and the directory after; otherwise the committer's flushes cover both.
  Result<void> publish_sealed(bool sync_each) {
    if (op_->cancel_requested()) {
      discard();
      return cancelled();
    }
    Result<void> published = sync_each ? sync_fd(*shared_, file_.fd.get()) : success();
    if (published) {
      published = publish(*shared_, dir_fd(), file_, name_, options_.overwrite, sync_each);
    }
    if (!published) {
      discard();
      return published;
    }
    file_.name.clear();  // published: nothing to discard
    file_.fd.reset();
    dir_.reset();
    return success();
  }

  // Worker: removes what this write created (the temporary file, or the partial target).
  void discard() { discard_temp(dir_fd(), file_); }

  bool group_commit() const {
    return options_.atomic && shared_->options.durable && committer_ != nullptr;
  }

  // Worker: opens the source where it opens on the worker, prepares the temporary file
  // and, for a local file, copies it in the kernel and seals it: all in one worker job.
  // Otherwise (more_data) the loop pulls the data in chunks.
  Result<Step> copy_on_worker(WriteScratch* scratch) {
    // The source first: one that is gone leaves no temporary file behind.
    if (source_->opens_on_worker()) {
      if (auto opened = source_->open_on_worker(); !opened) return opened.error();
    }
    if (auto prepared = prepare(scratch); !prepared) return prepared.error();
    auto region = source_->file_region();
    if (!region) return Step{};
    auto copied = kernel_copy(*shared_, region->fd, region->offset, region->length, file_.fd.get(),
                              op_.get());
    Result<void> checked =
        copied ? source_->check_region_copied(*copied) : Result<void>(copied.error());
    source_->release_region();  // here, rather than on the loop thread
    if (!checked) {
      discard();
      return checked.error();
    }
    return finish();
  }

  // Worker: opens (creating) the parent, checks the destination, creates the file. The
  // parent is taken from `scratch` when the trip's previous write opened it.
  Result<void> prepare(WriteScratch* scratch) {
    StoreKey parent = key_.parent();
    if (scratch && scratch->dir && scratch->parent == parent) {
      dir_ = scratch->dir;
    } else {
      auto dir = open_parent(*shared_, key_, true);
      if (!dir) return dir.error();
      dir_ = std::make_shared<const UniqueFd>(std::move(*dir));
      if (scratch) *scratch = WriteScratch{std::move(parent), dir_};
    }
    name_ = std::string(key_.name());
    // The publish step refuses a directory or (without overwrite) any entry atomically; the
    // check here only saves copying a large file that could not be published.
    if (!options_.atomic || !options_.size_hint || *options_.size_hint >= kFailFastBytes) {
      if (auto ok = check_destination(dir_fd(), name_, options_.overwrite); !ok) return ok;
    }
    if (options_.atomic) {
      auto temp = create_temp(*shared_, dir_fd(),
                              options_.mode ? static_cast<mode_t>(*options_.mode & 07777) : 0666);
      if (!temp) return temp.error();
      file_ = std::move(*temp);
    } else {
      int flags =
          O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | (options_.overwrite ? 0 : O_EXCL);
      int fd = ::openat(dir_fd(), name_.c_str(), flags, 0666);
      if (fd < 0 && errno == ELOOP) {
        // A symlink at the key is replaced, never written through.
        ::unlinkat(dir_fd(), name_.c_str(), 0);
        fd = ::openat(dir_fd(), name_.c_str(), flags, 0666);
      }
      if (fd < 0) return errno_error(errno);
      file_ = TempFile{UniqueFd(fd), name_};  // a partial target is removed on failure
    }
    return success();
  }

  // Worker: attributes; then either hands over to the committer, or (not group-committed)
  // fsyncs and renames into place.
  Result<Step> finish() {
    if (op_->cancel_requested()) {
      discard();
      return cancelled();
    }
    // Pulled in chunks and ended in a hole: the file gets its length (kernel copies did).
    if (auto ended = stream_.finish(file_.fd.get()); !ended) {
      discard();
      return ended.error();
    }
    FileAttrs attrs;
    attrs.mode = options_.mode;
    if (options_.mtime) attrs.mtime = to_timespec(*options_.mtime);
    const bool deferred = group_commit();
    auto sealed = seal(*shared_, file_.fd.get(), key_, attrs, !deferred);
    if (sealed && deferred) {
      sealed_ = std::move(*sealed);
      return Step{Stage::committing, {}};
    }
    if (sealed && options_.atomic) {
      if (auto published = publish(*shared_, dir_fd(), file_, name_, options_.overwrite);
          !published) {
        sealed = published.error();
      }
    } else if (sealed) {
      if (auto synced = sync_fd(*shared_, dir_fd()); !synced) sealed = synced.error();
    }
    if (!sealed) {
      discard();
      return sealed.error();
    }
    file_.name.clear();  // published: nothing to discard
    file_.fd.reset();
    return Step{Stage::done, std::move(*sealed)};
  }

  // Loop: what follows a step on the worker.
  void after_step(Result<Step> step) {
    if (!step) return done_(std::move(step).error());
    switch (step->stage) {
      case Stage::more_data:
        return pump();
      case Stage::committing:
        return committer_->enqueue(shared_from_this());
      case Stage::done:
        return done_(std::move(step->info));
    }
  }

  void abort(StoreError error) {
    auto self = shared_from_this();
    run_blocking<void>(
        executor_, [self, error](Result<void>) { self->done_(error); },
        [self]() -> Result<void> {
          self->discard();
          return success();
        });
  }

  void pump() {
    auto self = shared_from_this();
    source_->read(kPullChunk, [self](Result<Bytes> chunk) {
      if (self->op_->cancel_requested()) return self->abort(cancelled());
      if (!chunk) return self->abort(std::move(chunk).error());
      auto data = std::make_shared<Bytes>(std::move(*chunk));
      run_blocking<Step>(
          self->executor_, [self](Result<Step> step) { self->after_step(std::move(step)); },
          [self, data]() -> Result<Step> {
            if (data->empty()) return self->finish();
            if (auto written =
                    self->stream_.write(self->file_.fd.get(), data->data(), data->size());
                !written) {
              self->discard();
              return written.error();
            }
            return Step{};
          });
    });
  }

  SharedPtr shared_;
  CommitterPtr committer_;
  WriteTripsPtr trips_;  // null: a worker trip of its own
  Executor& executor_;
  StoreKey key_;
  ByteSourcePtr source_;
  WriteOptions options_;
  OperationRef op_;
  Callback<EntryInfo> done_;
  // Touched by one worker job at a time (each job starts after the previous completed).
  std::shared_ptr<const UniqueFd> dir_;  // shared with the writes of its trip
  int dir_fd() const { return dir_ ? dir_->get() : -1; }
  TempFile file_;      // the temporary file, or (non-atomic) the target being written
  HoleWriter stream_;  // writes the chunks pulled from a source without a file region
  std::string name_;
  EntryInfo sealed_;  // what the file is, once sealed and waiting for its commit
};

void Committer::enqueue(CommitPtr change) {
  waiting_.push_back(std::move(change));
  maybe_start_cycle();
}

void Committer::maybe_start_cycle() {
  if (!running_ && (!waiting_.empty() || !unconfirmed_.empty())) start_cycle();
}

void Committer::start_cycle() {
  running_ = true;
  struct Cycle {
    std::vector<CommitPtr> batch;
    std::vector<CommitPtr> unconfirmed;
    bool alone = false;
    Result<void> outcome = success();
  };
  auto cycle = std::make_shared<Cycle>();
  cycle->batch.swap(waiting_);
  cycle->unconfirmed.swap(unconfirmed_);
  cycle->alone = cycle->batch.size() == 1 && cycle->unconfirmed.empty() && publishing_ == 0;
  auto self = shared_from_this();
  executor_.run_blocking_dedicated(
      [shared = shared_, cycle] {
        cycle->outcome = cycle->alone ? cycle->batch.front()->commit_alone()
                                      : check(::syncfs(shared->root.get()));
      },
      [self, cycle] {
        self->running_ = false;
        if (cycle->alone) {
          self->maybe_start_cycle();
          return cycle->batch.front()->complete(std::move(cycle->outcome));
        }
        std::vector<CommitPtr> writes;
        for (auto& change : cycle->batch) {
          if (change->publishes()) writes.push_back(change);
        }
        if (!writes.empty()) self->publish(std::move(writes), cycle->outcome);
        // The next flush overlaps the links just handed out.
        self->maybe_start_cycle();
        // Linked before this flush began, durable now (or maybe not: report the failure,
        // so the engine writes them again).
        for (auto& change : cycle->unconfirmed)
          change->complete(cycle->outcome);
        for (auto& change : cycle->batch) {
          if (!change->publishes()) change->complete(cycle->outcome);
        }
      });
}

void Committer::publish(std::vector<CommitPtr> writes, const Result<void>& flushed) {
  struct Job {
    std::vector<CommitPtr> writes;
    std::vector<Result<void>> outcomes;
  };
  std::vector<std::string_view> directories;
  directories.reserve(writes.size());
  for (const auto& write : writes)
    directories.push_back(write->publish_directory());
  for (auto& indices : partition_by_directory(directories, kPublishJobs)) {
    auto job = std::make_shared<Job>();
    job->writes.reserve(indices.size());
    for (std::size_t index : indices)
      job->writes.push_back(std::move(writes[index]));
    ++publishing_;
    auto self = shared_from_this();
    executor_.run_blocking(
        [job, flushed] {
          job->outcomes.reserve(job->writes.size());
          for (auto& write : job->writes) {
            if (!flushed) {
              write->abandon();
              job->outcomes.push_back(flushed);
            } else {
              job->outcomes.push_back(write->publish_after_flush());
            }
          }
        },
        [self, job] {
          --self->publishing_;
          for (std::size_t i = 0; i < job->writes.size(); ++i) {
            if (i < job->outcomes.size() && job->outcomes[i]) {
              self->unconfirmed_.push_back(std::move(job->writes[i]));
            } else {
              job->writes[i]->complete(i < job->outcomes.size() ? std::move(job->outcomes[i])
                                                                : Result<void>(internal_error()));
            }
          }
          self->maybe_start_cycle();
        });
  }
}

// ---------------------------------------------------------------- the store

class LocalStore final : public Store {
 public:
  LocalStore(Executor& executor, std::string name, CapabilitySet capabilities, SharedPtr shared)
      : Store(executor, std::move(name), std::move(capabilities)),
        shared_(std::move(shared)),
        committer_(std::make_shared<Committer>(shared_, this->executor())),
        write_trips_(std::make_shared<SharedTrips<WriteScratch>>(this->executor(), kWritesPerTrip,
                                                                 kMinWriteTrips)),
        root_path_(shared_->root_path) {}

 protected:
  void do_stat(const StoreKey& key, const OperationRef&, Callback<EntryInfo> done) override {
    run_blocking<EntryInfo>(executor(), std::move(done),
                            [shared = shared_, key] { return stat_entry(*shared, key); });
  }

  void do_list(const StoreKey& dir, ListOptions options, const OperationRef&,
               Callback<EntryStreamPtr> done) override {
    auto& loop = executor();
    run_blocking<EntryStreamPtr>(
        loop, std::move(done), [shared = shared_, dir, options, &loop]() -> Result<EntryStreamPtr> {
          auto fd = open_dir_beneath(shared->root.get(), dir, false, shared->resolve_mode);
          if (!fd) return fd.error();
          LocalEntryStream::Level first{std::move(*fd), dir, {}, 0};
          int error_number = 0;
          first.names = list_names(first.fd.get(), error_number, true);
          if (error_number != 0) return errno_error(error_number);
          return EntryStreamPtr(
              std::make_shared<LocalEntryStream>(loop, options, std::move(first)));
        });
  }

  void do_read(const StoreKey& key, ReadRange range, const OperationRef&,
               Callback<ByteSourcePtr> done) override {
    auto& loop = executor();
    run_blocking<ByteSourcePtr>(
        loop, std::move(done), [shared = shared_, key, range, &loop]() -> Result<ByteSourcePtr> {
          struct stat info {};
          auto file = open_regular(*shared, key, info);
          if (!file) return file.error();
          auto size = static_cast<std::uint64_t>(info.st_size);
          std::uint64_t begin = std::min(range.offset, size);
          std::uint64_t length = size - begin;
          if (range.length) length = std::min(length, *range.length);
          return ByteSourcePtr(
              std::make_shared<FdByteSource>(loop, file->release(), begin, length));
        });
  }

  void do_write(const StoreKey& key, ByteSourcePtr source, WriteOptions options,
                const OperationRef& op, Callback<EntryInfo> done) override {
    std::make_shared<LocalWrite>(shared_, committer_, write_trips_, executor(), key,
                                 std::move(source), options, op, std::move(done))
        ->start();
  }

  void do_copy(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override {
    run_blocking<void>(executor(), std::move(done), [shared = shared_, from, to, overwrite, op] {
      return copy_entry(*shared, from, to, overwrite, op.get());
    });
  }

  void do_move(const StoreKey& from, const StoreKey& to, bool overwrite, const OperationRef& op,
               Callback<void> done) override {
    change_directories(std::move(done),
                       [from, to, overwrite, op](const Shared& shared, ChangedDirs* changed) {
                         return move_entry(shared, from, to, overwrite, op.get(), changed);
                       });
  }

  void do_remove(const StoreKey& key, bool missing_ok, const OperationRef&,
                 Callback<void> done) override {
    change_directories(std::move(done),
                       [key, missing_ok](const Shared& shared, ChangedDirs* changed) {
                         return remove_entry(shared, key, missing_ok, changed);
                       });
  }

  void do_mkdir(const StoreKey& key, MkdirOptions options, const OperationRef&,
                Callback<void> done) override {
    change_directories(std::move(done),
                       [key, mode = options.mode](const Shared& shared, ChangedDirs* changed) {
                         return make_directory(shared, key, mode, changed);
                       });
  }

  void do_rmdir(const StoreKey& key, bool recursive, const OperationRef&,
                Callback<void> done) override {
    change_directories(std::move(done),
                       [key, recursive](const Shared& shared, ChangedDirs* changed) {
                         return remove_directory(shared, key, recursive, changed);
                       });
  }

  void do_set_attrs(const StoreKey& key, Attrs attrs, const OperationRef&,
                    Callback<void> done) override {
    run_blocking<void>(executor(), std::move(done), [shared = shared_, key, attrs] {
      return set_attributes(*shared, key, attrs);
    });
  }

  void do_symlink(const StoreKey& key, std::string target, const OperationRef&,
                  Callback<void> done) override {
    change_directories(std::move(done), [key, target](const Shared& shared, ChangedDirs* changed) {
      return make_symlink(shared, key, target, changed);
    });
  }

  void do_readlink(const StoreKey& key, const OperationRef&, Callback<std::string> done) override {
    run_blocking<std::string>(executor(), std::move(done),
                              [shared = shared_, key] { return read_symlink(*shared, key); });
  }

  Resolution do_resolve(const StoreKey& key) const override {
    std::string path = root_path_;
    if (!key.is_root()) path += "/" + key.str();
    return {"local", path,
            openat2_available() && !shared_->options.force_walk_resolution
                ? "confined by openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS)"
                : "confined by an O_NOFOLLOW component walk"};
  }

  void do_close(Callback<void> done) override {
    // Workers hold their own reference; the root closes when the last one finishes.
    done(success());
  }

  std::optional<StoreError> reject_key(const StoreKey& key) const override {
    if (key.any_segment(is_temp_name)) {
      return StoreError::make(Errc::InvalidPath,
                              "names starting with '.tetherd.tmp.' are reserved for the "
                              "store's temporary files");
    }
    return std::nullopt;
  }

 private:
  // Runs `work` (an operation that changes directory entries) on a worker; the directories
  // it changed are made durable by the committer before `done` is called.
  template <typename Work>
  void change_directories(Callback<void> done, Work work) {
    auto changed = std::make_shared<ChangedDirs>();
    run_blocking<void>(
        executor(),
        [shared = shared_, committer = committer_, changed,
         done = std::move(done)](Result<void> outcome) mutable {
          if (!outcome || changed->empty()) return done(std::move(outcome));
          committer->enqueue(
              std::make_shared<DirectoryChange>(shared, std::move(*changed), std::move(done)));
        },
        [shared = shared_, changed, work = std::move(work)] {
          return work(*shared, changed.get());
        });
  }

  SharedPtr shared_;
  CommitterPtr committer_;
  WriteTripsPtr write_trips_;
  std::string root_path_;
};

}  // namespace

Result<StorePtr> open_local_store(Executor& executor, LocalStoreOptions options) {
  auto fail = [&](StoreError error) {
    error.store = options.name;
    error.operation = Operation::Open;
    error.key = options.root;
    return error;
  };
  if (options.root.empty())
    return fail(StoreError::make(Errc::InvalidPath, "no root directory given"));
  int fd = ::open(options.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(errno_error(errno));
  auto shared = std::make_shared<Shared>();
  shared->root = UniqueFd(fd);
  char resolved[PATH_MAX];
  shared->root_path = ::realpath(options.root.c_str(), resolved) ? resolved : options.root;
  shared->resolve_mode = options.force_walk_resolution ? ResolveMode::Walk : ResolveMode::Auto;
  shared->options = options;
  shared->anonymous_temps = options.allow_anonymous_temps && ::access("/proc/self/fd", X_OK) == 0;
  shared->empty_path_links = options.allow_empty_path_links;
  // Temporary files a crash left behind are removed by the listings that meet them (the
  // reconciliation lists every directory whose entries changed since a clean stop), not
  // by a walk of the whole target here: that walk was a fifth of a no-op restart.

  CapabilitySet capabilities{
      Capability::Read,         Capability::Write,         Capability::Delete,
      Capability::List,         Capability::Move,          Capability::Copy,
      Capability::AtomicWrite,  Capability::Metadata,      Capability::SetMtime,
      Capability::SetMode,      Capability::Symlink,       Capability::Mkdir,
      Capability::AtomicMove,   Capability::AtomicReplace, Capability::NoClobberCreate,
      Capability::ExplicitDirs, Capability::LazyRead,      Capability::ServerSideCopy};
  if (options.durable) capabilities.add(Capability::Durable);
  // ext4, xfs, btrfs and tmpfs keep nanoseconds; others round further (seconds on ext3,
  // 2 s on FAT), so the precision is measured. Where no probe file can be made (a
  // read-only target, which takes no writes either) nanoseconds are assumed.
  const MtimeProbe probe = probe_mtime_precision(shared->root.get(), options.allow_anonymous_temps);
  capabilities.mtime_precision = probe.ran ? probe.precision : std::chrono::nanoseconds(1);
  capabilities.mtime_clock_skew = mtime_clock_skew_of(shared->root.get());
  std::string name = options.name;
  return StorePtr(std::make_shared<LocalStore>(executor, std::move(name), std::move(capabilities),
                                               std::move(shared)));
}

}  // namespace tetherd::stores
