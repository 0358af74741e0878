#pragma once

// RemovedIdentities: which mirrored entries the watcher recently said were removed, by
// their source identity (device, inode). A rename whose two halves the watcher could not
// pair (the new place is a directory made a moment before, not watched yet) arrives as a
// removal of the old path and a creation of the new one; when the new path turns out to
// be the same inode as a removed one whose target copy is still there, the engine moves
// that copy instead of copying the bytes again.
//
// A hint only: a reused inode number or a hard link can match too. The engine verifies
// (the moved copy is compared with the source like any target state, and the old path is
// examined again afterwards), so a wrong hint costs a write, never data.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace tetherd::daemon {

class RemovedIdentities {
 public:
  /// Beyond this many remembered removals (an `rm -rf` of a large tree) new ones are not
  /// kept: memory stays bounded and those renames are copied.
  static constexpr std::size_t kMaxKept = 16'384;

  void note(std::uint64_t device, std::uint64_t inode, const std::string& path);
  /// The removed path with this identity, forgotten as it is handed out.
  std::optional<std::string> take(std::uint64_t device, std::uint64_t inode);
  /// Nothing is pending any more: every removal noted has been examined.
  void clear() noexcept { by_identity_.clear(); }
  std::size_t size() const noexcept { return by_identity_.size(); }

 private:
  struct Identity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
  };
  struct IdentityHash {
    std::size_t operator()(const Identity& id) const noexcept {
      return static_cast<std::size_t>(id.inode * 0x9E3779B97F4A7C15ULL ^ id.device);
    }
  };
  std::unordered_map<Identity, std::string, IdentityHash> by_identity_;
};

}  // namespace tetherd::daemon
