#include "tetherd/engine/standing_errors.hpp"

#include "tetherd/engine/relative_path.hpp"

namespace tetherd::daemon {

void StandingErrors::stand(std::string_view path, Kind kind, std::string message) {
  auto it = errors_.find(path);
  if (it == errors_.end()) it = errors_.emplace(std::string(path), Entry{}).first;
  it->second.kind = kind;
  it->second.message = std::move(message);
  it->second.stood = ++stands_;
}

StandingErrors::Cleared StandingErrors::clear(const std::string& path, bool live) {
  auto found = errors_.find(path);
  if (found == errors_.end()) return Cleared::nothing;
  if (found->second.kind == Kind::action) {
    errors_.erase(found);
    return Cleared::action;
  }
  if (!live) return Cleared::nothing;
  errors_.erase(found);
  return Cleared::unreadable_directory;
}

void StandingErrors::clear_within(const std::string& subtree, std::uint64_t mark) {
  // Paths within "a" sort from "a" on, among others ("a-b", "a.c") that sort between "a"
  // and "a/": skipped until the first path past "a/" ends the range.
  for (auto it = errors_.lower_bound(subtree); it != errors_.end();) {
    if (!is_within(it->first, subtree)) {
      if (!subtree.empty() && it->first > subtree + '/') break;
      ++it;
      continue;
    }
    if (it->second.stood > mark) {
      ++it;
      continue;
    }
    it = errors_.erase(it);
  }
}

}  // namespace tetherd::daemon
