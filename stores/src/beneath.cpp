#include "beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <random>

#include "tetherd/stores/errno_map.hpp"

namespace tetherd::stores {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  reset();
}

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

namespace {

std::atomic<bool> g_openat2_usable{true};

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

core::StoreError resolve_error(int error_number, const core::StoreKey& where) {
  if (error_number == ELOOP || error_number == EXDEV) {
    return errno_error(error_number,
                       "'" + core::printable(where.str()) +
                           "' crosses a symbolic link; the store never follows links");
  }
  if (error_number == ENOTDIR) {
    return errno_error(error_number,
                       "a component of '" + core::printable(where.str()) + "' is not a directory");
  }
  return errno_error(error_number);
}

core::Result<UniqueFd> walk(int root_fd, const core::StoreKey& dir, bool create) {
  UniqueFd current(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!current) return errno_error(errno);
  for (auto segment : dir.segments()) {
    std::string name(segment);
    int fd = ::openat(current.get(), name.c_str(), kDirFlags | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), name.c_str(), 0777) != 0 && errno != EEXIST) {
        return resolve_error(errno, dir);
      }
      fd = ::openat(current.get(), name.c_str(), kDirFlags | O_NOFOLLOW);
    }
    if (fd < 0) return resolve_error(errno, dir);
    current = UniqueFd(fd);
  }
  return current;
}

}  // namespace

bool openat2_available() noexcept {
  return g_openat2_usable.load(std::memory_order_relaxed);
}

core::Result<UniqueFd> open_dir_beneath(int root_fd, const core::StoreKey& dir, bool create,
                                        ResolveMode mode) {
  if (dir.is_root()) {
    UniqueFd copy(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) return errno_error(errno);
    return copy;
  }
  if (mode == ResolveMode::Auto && g_openat2_usable.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = kDirFlags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root_fd, dir.str().c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    int error_number = errno;
    if (error_number == ENOSYS) {
      g_openat2_usable.store(false, std::memory_order_relaxed);
    } else if (error_number == EAGAIN) {
      // RESOLVE_BENEATH may ask for a retry under concurrent renames: the walk is safe.
    } else if (!(error_number == ENOENT && create)) {
      return resolve_error(error_number, dir);
    }
  }
  return walk(root_fd, dir, create);
}

bool is_temp_name(std::string_view name) noexcept {
  return name.substr(0, kTempPrefix.size()) == kTempPrefix;
}

bool temp_is_stale(std::string_view name) noexcept {
  if (!is_temp_name(name)) return false;
  // prefix, then the creating process's id in hex, then '.'
  const std::string_view rest = name.substr(kTempPrefix.size());
  unsigned long pid = 0;
  std::size_t digits = 0;
  for (char c : rest) {
    int value = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (value < 0) break;
    if (++digits > 8) return true;  // not a pid: not a name this store made
    pid = pid * 16 + static_cast<unsigned long>(value);
  }
  if (digits == 0 || digits == rest.size() || rest[digits] != '.') return true;
  if (pid == static_cast<unsigned long>(::getpid())) return false;
  if (pid == 0 || pid > static_cast<unsigned long>(std::numeric_limits<pid_t>::max())) return true;
  // Alive (or not ours to signal): its write may be in progress. A reused pid only delays
  // the removal to a later listing.
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string make_temp_name() {
  static std::atomic<unsigned long> counter{0};
  static const unsigned long pid = static_cast<unsigned long>(::getpid());
  thread_local std::mt19937_64 random{std::random_device{}()};
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%.*s%lx.%lx.%016llx", static_cast<int>(kTempPrefix.size()),
                kTempPrefix.data(), pid, counter.fetch_add(1, std::memory_order_relaxed),
                static_cast<unsigned long long>(random()));
  return buffer;
}

}  // namespace tetherd::stores
