#pragma once

// What the mount table (/proc/self/mountinfo) says about where a path lies within its
// filesystem. A bind mount shows a directory of a filesystem at a second place, and it may
// be a directory *below* another path: after `mount --bind /p/x/deep /q`, /q/t lies inside
// /p/x although no prefix of /q/t is /p/x (located_path.hpp cannot see that). Each mount
// says which filesystem it shows (its device) and which of that filesystem's directories
// (its root); with both, two paths compare as the filesystem sees them.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tetherd::config::detail {

/// One line of mountinfo (proc(5)), the fields used here.
struct Mount {
  std::string id;                     ///< field 1
  std::string parent_id;              ///< field 2
  std::string device;                 ///< field 3, "major:minor" of the filesystem
  std::filesystem::path root;         ///< field 4: the directory shown, within its filesystem
  std::filesystem::path mount_point;  ///< field 5: where it is shown
  friend bool operator==(const Mount&, const Mount&) = default;
};

/// mountinfo's escapes undone: a backslash and three octal digits stand for one byte
/// ("\040" a space, "\134" a backslash). Any other backslash is kept as it is.
std::string unescape_mountinfo(std::string_view field);

class MountTable {
 public:
  /// This process's mount table; nothing when /proc/self/mountinfo cannot be read.
  static std::optional<MountTable> read();
  /// The mounts of mountinfo text. Lines that do not parse, and mounts whose root or mount
  /// point is not an absolute path (nsfs, ...), are left out.
  static MountTable parse(std::string_view mountinfo);

  const std::vector<Mount>& mounts() const { return mounts_; }

  /// If `inner` lies in `outer` (or is it) as the filesystem sees it, whatever mounts the
  /// two are reached through: `inner` spelled beneath `outer` ("/q/t" in "/p/x", with /q a
  /// bind mount of /p/x/deep: "/p/x/deep/t"). Nothing when they are apart, in different
  /// filesystems, or outside every known mount. Both paths absolute and normalized, symbolic
  /// links resolved; they need not exist (a name no mount lies on is taken as written).
  /// A mount hidden beneath a later mount over one of its parent directories is not told
  /// apart from a visible one.
  std::optional<std::filesystem::path> seen_within(const std::filesystem::path& inner,
                                                   const std::filesystem::path& outer) const;

 private:
  /// The mount that shows `path`: the deepest mount point above it, and of mounts stacked
  /// on that point the topmost one.
  const Mount* containing(const std::filesystem::path& path) const;

  std::vector<Mount> mounts_;
};

/// A clause for a message: through a bind mount, `path` is `seen` (seen_within's answer).
std::string bind_mount_note(const std::filesystem::path& path, const std::filesystem::path& seen);

}  // namespace tetherd::config::detail
