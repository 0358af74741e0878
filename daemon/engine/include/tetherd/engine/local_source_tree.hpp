#pragma once

// LocalSourceTree: blocking, symlink-safe access to one rule's source directory on the
// local file system.
//
// Every lookup resolves beneath the root without following any symlink (openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk where the kernel lacks it),
// so a symlink inside the source is mirrored as a symlink and never leads the engine
// outside the tree. The functions block: call them on a worker thread (Executor::
// run_blocking). A LocalSourceTree is immutable after open() and safe to share between threads.
//
// Files and directories are read with O_NOATIME: mirroring a tree does not change it,
// access times included. Mail readers compare a mailbox's atime with its mtime to tell new
// mail, and with relatime the first read of each file since it changed would dirty its
// inode, which the source's file system then writes back. The kernel grants O_NOATIME to
// the file's owner or to CAP_FOWNER only; after the first refusal (EPERM) this tree stops
// asking and reads as any reader would.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/engine/source_tree.hpp"

namespace tetherd::daemon {

/// An open regular file of the source with the state it had when opened.
struct OpenSourceFile {
  int fd = -1;  ///< owned by the caller (close it)
  SourceEntry state;
};

class LocalSourceTree final : public SourceTree,
                              public std::enable_shared_from_this<LocalSourceTree> {
 public:
  /// Opens the root directory. NotFound / NotADirectory / PermissionDenied with the errno.
  static core::Result<std::shared_ptr<LocalSourceTree>> open(std::string root);
  ~LocalSourceTree() override;
  LocalSourceTree(const LocalSourceTree&) = delete;
  LocalSourceTree& operator=(const LocalSourceTree&) = delete;

  const std::string& root() const noexcept override { return root_; }

  /// lstat of `relative` ("" = the root). NotFound when it (or a parent) is absent.
  core::Result<SourceEntry> stat(std::string_view relative) const override;
  /// The entries of directory `relative`, sorted by name (bytes, unsigned). Entries that
  /// vanish while being listed are left out.
  core::Result<std::vector<SourceEntry>> list(std::string_view relative) const override;
  /// Opens regular file `relative` for reading (O_NOFOLLOW). IsDirectory / InvalidPath
  /// (not a regular file) / NotFound.
  core::Result<OpenSourceFile> open_file(std::string_view relative) const;
  /// Whether the root directory is still the one opened (not deleted, moved or replaced).
  bool root_intact() const override;
  /// A SourceFileSource opened on the consumer's worker.
  std::shared_ptr<core::ByteSource> reader(core::Executor& executor,
                                           SourceEntry expected) const override;
  core::Result<void> create_marker(std::string_view name) const override;
  void remove_marker(std::string_view name) const override;
  std::int64_t now_ns() const override;

 private:
  LocalSourceTree(std::string root, int root_fd, std::uint64_t device, std::uint64_t inode);
  /// A descriptor (O_PATH | O_DIRECTORY) of directory `relative`, or an error.
  core::Result<int> open_directory(std::string_view relative, bool for_reading) const;

  std::string root_;
  int root_fd_;
  std::uint64_t root_device_;
  std::uint64_t root_inode_;
  /// openat2 of `path` beneath the root, refusing symlinks anywhere in it; retried while
  /// a concurrent rename (EAGAIN) or a signal (EINTR) interrupts it. -1 with errno.
  int open_beneath_root(const std::string& path, int flags) const;
  /// Set once an open with O_NOATIME was refused; then it is no longer asked for.
  mutable std::atomic<bool> noatime_refused_{false};
  /// Calls `open(flags)` with O_NOATIME added unless refused before; again without it
  /// when it is refused now. Returns the descriptor or -1 with errno.
  template <typename Open>
  int open_without_atime(int flags, Open&& open) const;
};

}  // namespace tetherd::daemon
