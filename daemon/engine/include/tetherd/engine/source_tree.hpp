#pragma once

// The source side of a rule: what an entry is (SourceEntry) and the tree the engine reads
// it from (SourceTree). LocalSourceTree (local_source_tree.hpp) is the real file system.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/result.hpp"
#include "tetherd/core/store.hpp"

namespace tetherd::daemon {

/// An entry of the source as lstat(2) sees it.
struct SourceEntry {
  std::string path;  ///< relative to the source root, '/'-separated; "" is the root
  core::EntryType type = core::EntryType::File;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint32_t mode = 0;  ///< permission bits (07777)
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::string link_target;  ///< symlinks only

  /// Whether two observations show the same content state (same inode, size and times).
  bool same_state(const SourceEntry& other) const noexcept {
    return device == other.device && inode == other.inode && size == other.size &&
           mtime_ns == other.mtime_ns && ctime_ns == other.ctime_ns;
  }
};

/// One rule's source directory as the engine sees it: blocking lookups (call them on a
/// worker thread, Executor::run_blocking), safe to share between threads. LocalSourceTree is
/// the real file system; a simulation supplies a tree of its own.
class SourceTree {
 public:
  virtual ~SourceTree() = default;

  virtual const std::string& root() const noexcept = 0;
  /// lstat of `relative` ("" = the root). NotFound when it (or a parent) is absent.
  virtual core::Result<SourceEntry> stat(std::string_view relative) const = 0;
  /// The entries of directory `relative`, sorted by name (bytes, unsigned). Entries that
  /// vanish while being listed are left out.
  virtual core::Result<std::vector<SourceEntry>> list(std::string_view relative) const = 0;
  /// Whether the root directory is still the one opened (not deleted, moved or replaced).
  virtual bool root_intact() const = 0;
  /// The content of regular file `expected.path` for a store's write, read on workers. It
  /// never ends with content the file did not have in state `expected` (same inode, size,
  /// times and mode): the read fails with PreconditionFailed (retryable) instead.
  virtual std::shared_ptr<core::ByteSource> reader(core::Executor& executor,
                                                   SourceEntry expected) const = 0;
  /// Creates the empty file `name` in the root (O_EXCL; a settle marker the watcher will
  /// report), or removes it. Errors as errno-mapped StoreErrors.
  virtual core::Result<void> create_marker(std::string_view name) const = 0;
  virtual void remove_marker(std::string_view name) const = 0;
  /// The time now, in nanoseconds since the epoch, on the clock the tree's file times
  /// come from (CLOCK_REALTIME for a local file system). Cheap: called on the loop.
  virtual std::int64_t now_ns() const = 0;
};

/// Opens the source tree of a rule: the real one (LocalSourceTree::open) unless a test
/// gives its own. Called on a worker.
using SourceTreeOpener =
    std::function<core::Result<std::shared_ptr<SourceTree>>(const std::string&)>;

/// Maps an errno of a source access to a StoreError (store "source", key `relative`).
core::StoreError source_error(int error_number, std::string_view relative, std::string_view what);

}  // namespace tetherd::daemon
