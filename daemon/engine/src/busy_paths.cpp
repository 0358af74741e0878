#include "tetherd/engine/busy_paths.hpp"

namespace tetherd::daemon {

namespace {

// Adds one to the count of `key`, building the key string only when it is new.
template <typename Counts, typename Key>
void add_one(Counts& counts, const Key& key) {
  if (auto it = counts.find(key); it != counts.end()) {
    ++it->second;
    return;
  }
  counts.emplace(std::string(key.text), 1u);
}

}  // namespace

void BusyPaths::occupy(std::string_view path) {
  const Prehashed self =
      walk_ancestors(path, [this](const Prehashed& ancestor) { add_one(within_, ancestor); });
  add_one(busy_, self);
}

void BusyPaths::release(std::string_view path,
                        const std::function<void(const std::string&)>& freed) {
  auto it = busy_.find(Prehashed{path, extend(kHashBasis, path)});
  if (it == busy_.end()) return;  // never occupied: nothing to undo
  if (--it->second == 0) {
    const std::string key = std::move(busy_.extract(it).key());
    freed(key);
  }
  walk_ancestors(path, [this, &freed](const Prehashed& ancestor) {
    auto counted = within_.find(ancestor);
    if (counted == within_.end() || --counted->second > 0) return;
    const std::string key = std::move(within_.extract(counted).key());
    freed(key);
  });
}

const std::string* BusyPaths::overlapping(std::string_view path) const {
  if (busy_.empty()) return nullptr;
  const std::string* found = nullptr;
  const Prehashed self = walk_ancestors(path, [this, &found](const Prehashed& ancestor) {
    if (found) return;
    if (auto it = busy_.find(ancestor); it != busy_.end()) found = &it->first;
  });
  if (auto same = busy_.find(self); same != busy_.end()) return &same->first;
  if (auto inside = within_.find(self); inside != within_.end()) return &inside->first;
  return found;
}

}  // namespace tetherd::daemon
