#include "tetherd/engine/source_hint_fences.hpp"

namespace tetherd::daemon {

void SourceHintFences::raise(std::string_view path) {
  ++generation_;
  if (fences_.size() >= kMaxFences) {
    // Forget them all: a hint stamped before this fence is stale wherever it lies.
    fences_.clear();
    floor_ = generation_;
    return;
  }
  auto it = fences_.find(path);
  if (it == fences_.end()) {
    fences_.emplace(std::string(path), generation_);
  } else {
    it->second = generation_;
  }
}

bool SourceHintFences::still_valid(std::string_view path, Generation stamp) const {
  if (stamp < floor_) return false;
  if (fences_.empty()) return true;
  // The path itself, then each ancestor: "a/b/c", "a/b", "a", "".
  std::string_view at = path;
  while (true) {
    if (auto it = fences_.find(at); it != fences_.end() && it->second > stamp) return false;
    if (at.empty()) return true;
    const auto slash = at.rfind('/');
    at = slash == std::string_view::npos ? std::string_view() : at.substr(0, slash);
  }
}

}  // namespace tetherd::daemon
