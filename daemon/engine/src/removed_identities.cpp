// RemovedIdentities: recently removed mirrored entries by source identity.

#include "tetherd/engine/removed_identities.hpp"

namespace tetherd::daemon {

void RemovedIdentities::note(std::uint64_t device, std::uint64_t inode, const std::string& path) {
  if (by_identity_.size() >= kMaxKept) return;
  by_identity_.insert_or_assign(Identity{device, inode}, path);
}

std::optional<std::string> RemovedIdentities::take(std::uint64_t device, std::uint64_t inode) {
  auto found = by_identity_.find(Identity{device, inode});
  if (found == by_identity_.end()) return std::nullopt;
  std::string path = std::move(found->second);
  by_identity_.erase(found);
  return path;
}

}  // namespace tetherd::daemon
