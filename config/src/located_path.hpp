#pragma once

// What a path is, rather than how it is spelled: two spellings name the same directory when
// the filesystem says so (device and inode), whatever symbolic links, bind mounts or second
// mounts of one filesystem lie between them. The overlap and cross-rule checks compare
// paths this way, so `/p/bx` (a bind mount of `/p/x`) is seen to contain `/p/x/sub`.

#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tetherd::config::detail {

/// A directory's identity on this machine while it stays mounted.
struct FileId {
  dev_t device = 0;
  ino_t inode = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

/// An absolute path, symbolic links resolved, with the identity of each of its prefixes that
/// exists ("/", "/a", "/a/b", ...; a mount point answers with the mounted directory). The
/// prefixes that do not exist (a target not yet made) are kept as names beneath the deepest
/// one that does. A snapshot: taken once, when the config is read.
///
/// Not seen: a bind mount of a directory *below* the other path (`mount --bind /p/x/deep /q`
/// puts /q/t inside /p/x, yet no prefix of /q/t is /p/x); that takes the mount table
/// (mount_table.hpp).
class LocatedPath {
 public:
  /// `path` must be absolute and lexically normalized (normalize_absolute).
  static LocatedPath locate(const std::filesystem::path& path);

  /// The path with symbolic links resolved (path_checks.hpp resolve()).
  const std::filesystem::path& path() const { return path_; }
  /// True if the whole path exists.
  bool exists() const { return ids_.size() == names_.size() + 1; }

  /// If this path is `outer` or lies beneath it (judged by identity): how many of this
  /// path's names lead to the directory that is `outer`, or to the deepest existing prefix
  /// of `outer` when the names below it match `outer`'s missing ones. Nothing otherwise.
  std::optional<std::size_t> within(const LocatedPath& outer) const;
  /// True if both are one directory (or would be, once made).
  bool same_as(const LocatedPath& other) const;

  /// The prefix made of the first `count` names ("/" for 0).
  std::filesystem::path prefix(std::size_t count) const;
  /// The deepest prefix that exists.
  std::filesystem::path deepest_existing() const { return prefix(ids_.size() - 1); }

 private:
  std::filesystem::path path_;
  std::vector<std::string> names_;  // the components after "/"
  std::vector<FileId> ids_;         // ids_[k]: the prefix of k names; ids_[0] is "/"
};

/// "" when `inner`'s first `count` names spell `outer`'s deepest existing prefix; otherwise
/// (links being resolved, a mount shows one directory at two places) a clause for a
/// message: `"/p/x" and "/p/bx" are one directory (a bind mount)`.
std::string same_directory_note(const LocatedPath& inner, std::size_t count,
                                const LocatedPath& outer);

}  // namespace tetherd::config::detail
