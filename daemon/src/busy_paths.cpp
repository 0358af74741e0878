#include "tetherd/daemon/busy_paths.hpp"

namespace tetherd::daemon {

namespace {

// Calls `visit` with each proper ancestor of the relative path `path`: "" (the root) first,
// then "a", "a/b", ... for "a/b/c". The root has none.
template <typename Visit>
void for_each_ancestor(std::string_view path, Visit&& visit) {
  if (path.empty()) return;
  visit(std::string_view());
  for (auto slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', slash + 1)) {
    visit(path.substr(0, slash));
  }
}

// Adds one to `counts[key]`, building the key string only when it is new.
template <typename Counts>
void add_one(Counts& counts, std::string_view key) {
  if (auto it = counts.find(key); it != counts.end()) {
    ++it->second;
    return;
  }
  counts.emplace(std::string(key), 1u);
}

}  // namespace

void BusyPaths::occupy(std::string_view path) {
  add_one(busy_, path);
  for_each_ancestor(path, [this](std::string_view ancestor) { add_one(within_, ancestor); });
}

void BusyPaths::release(std::string_view path,
                        const std::function<void(const std::string&)>& freed) {
  auto it = busy_.find(path);
  if (it == busy_.end()) return;  // never occupied: nothing to undo
  if (--it->second == 0) {
    const std::string key = std::move(busy_.extract(it).key());
    freed(key);
  }
  for_each_ancestor(path, [this, &freed](std::string_view ancestor) {
    auto counted = within_.find(ancestor);
    if (counted == within_.end() || --counted->second > 0) return;
    const std::string key = std::move(within_.extract(counted).key());
    freed(key);
  });
}

const std::string* BusyPaths::overlapping(std::string_view path) const {
  if (busy_.empty()) return nullptr;
  if (auto same = busy_.find(path); same != busy_.end()) return &same->first;
  if (auto inside = within_.find(path); inside != within_.end()) return &inside->first;
  const std::string* found = nullptr;
  for_each_ancestor(path, [this, &found](std::string_view ancestor) {
    if (found) return;
    if (auto it = busy_.find(ancestor); it != busy_.end()) found = &it->first;
  });
  return found;
}

}  // namespace tetherd::daemon
