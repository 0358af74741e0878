#pragma once

// Confinement of every local access beneath the store root. Directories are opened with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it (checked at run
// time: ENOSYS switches to the fallback for the process), or by a walk that opens one
// component at a time with O_NOFOLLOW. Keys hold no "..", so either way a symlink planted
// in the tree can never lead outside: it is refused (ELOOP → NotADirectory). The last
// component is then operated on with *at() calls on the opened parent, never following it.

#include <string>
#include <utility>

#include "tetherd/core/result.hpp"
#include "tetherd/core/store_key.hpp"

namespace tetherd::stores {

/// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd();
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

enum class ResolveMode {
  Auto,  ///< openat2 when the kernel has it, else the walk
  Walk,  ///< always the O_NOFOLLOW walk (tests exercise it this way)
};

/// Opens directory `dir` beneath `root_fd` (O_RDONLY|O_DIRECTORY, fsync-able). With
/// `create`, missing directories are made (mode 0777 less umask). Errors: NotFound,
/// NotADirectory (a file or symlink on the way), PermissionDenied, ...
core::Result<UniqueFd> open_dir_beneath(int root_fd, const core::StoreKey& dir, bool create,
                                        ResolveMode mode);

/// Whether openat2 is in use (false after the kernel answered ENOSYS).
bool openat2_available() noexcept;

/// The prefix of the store's temporary files; listings hide such names.
inline constexpr std::string_view kTempPrefix = ".tetherd.tmp.";
bool is_temp_name(std::string_view name) noexcept;
/// Whether temporary file `name` was left by a process that no longer runs (a crash).
bool temp_is_stale(std::string_view name) noexcept;
/// A fresh temporary name: prefix, process id, counter, random bits.
std::string make_temp_name();

}  // namespace tetherd::stores
