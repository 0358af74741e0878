#pragma once

// Whether a mirror from a source directory into a local target would copy into itself or
// over its own source. Shared by the config loader (every rule) and `tetherd mirror` (which
// must refuse before it creates DST).

#include <filesystem>
#include <optional>
#include <string>

namespace tetherd::config {

/// Nothing when `source` and the local directory `target` are apart; otherwise why not, for
/// a message naming both paths. Judged by what the paths are, not how they are spelled: the
/// device and inode of the source and of every existing ancestor of the target (and the
/// other way round), with symbolic links resolved, so a bind mount or a second mount of the
/// same filesystem is seen through. A bind mount of a directory below the other path
/// (`mount --bind SRC/deep Q` with target Q/t) is seen in the mount table
/// (/proc/self/mountinfo; without it, only identities are compared). Both paths absolute
/// and lexically normalized; the target need not exist.
std::optional<std::string> source_target_overlap(const std::filesystem::path& source,
                                                 const std::filesystem::path& target);

}  // namespace tetherd::config
