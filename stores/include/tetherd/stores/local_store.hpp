#pragma once

// local_store: a directory on a local file system as a Store.
//
// - Confinement: every access resolves beneath the root (openat2 RESOLVE_BENEATH |
//   RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk); symlinks in the tree are never followed,
//   so a planted link cannot redirect a write, delete or move outside the root.
// - Atomic writes: an anonymous O_TMPFILE in the target directory (or, where the file
//   system lacks it, a temporary file ".tetherd.tmp.*", hidden from listings; keys may not
//   use the prefix), written, fsync'd (durable), then linked in under the key (a new key:
//   linkat never clobbers) or given a hidden name and renamed over it (renameat2, with
//   RENAME_NOREPLACE when overwrite=false); the directory is then fsync'd (durable).
//   Failure or cancellation removes the temporary file. Named temporary files left by a
//   crash are removed when the store opens (anonymous ones vanish by themselves).
// - Copy: FICLONE where the file system shares extents, else copy_file_range, else a
//   read/write loop; either copies only the source's data (SEEK_DATA/SEEK_HOLE), so holes
//   stay holes, and data pulled in chunks leaves whole zero blocks unwritten. Move: renameat2;
//   across a mount inside the root (EXDEV), copy then delete (the source survives until the copy is
//   complete).
// - Capabilities: mtime_precision is measured when the store opens (a file created and
//   unlinked at once under a temporary name, its mtime set and read back).

#include <memory>
#include <string>

#include "tetherd/core/store.hpp"

namespace tetherd::stores {

struct LocalStoreOptions {
  std::string name = "local";
  /// An existing directory (absolute or relative to the working directory).
  std::string root;
  /// fsync files before they appear and directories after they change (DURABLE).
  bool durable = true;

  // Seams for tests: force the paths a given kernel or file system would take.
  bool force_walk_resolution = false;  ///< never use openat2
  bool allow_clone = true;             ///< try FICLONE
  bool allow_copy_file_range = true;   ///< try copy_file_range
  bool simulate_cross_device = false;  ///< renames answer EXDEV (exercises copy + delete)
  bool allow_anonymous_temps = true;   ///< O_TMPFILE (else always named temporary files)
  bool allow_empty_path_links = true;  ///< linkat(AT_EMPTY_PATH) (else via /proc/self/fd)
};

/// Opens the store: the root must be an existing directory. Blocking: call at startup.
/// Temporary files a crashed process left are removed by the listings that meet them.
core::Result<core::StorePtr> open_local_store(core::Executor& executor, LocalStoreOptions options);

}  // namespace tetherd::stores
