#include "s3_known_keys.hpp"

namespace tetherd::stores::s3 {

void KnownKeys::exists(std::string_view key) {
  std::string_view dir = key;
  if (key.ends_with('/')) {
    dir.remove_suffix(1);  // a marker: the directory itself
  } else {
    files_.emplace(key);
    const auto slash = dir.rfind('/');
    dir = slash == std::string_view::npos ? std::string_view() : dir.substr(0, slash);
  }
  // Parents from the deepest up, until one is known (its parents are known then too).
  while (!dir.empty() && dirs_.emplace(dir).second) {
    const auto slash = dir.rfind('/');
    dir = slash == std::string_view::npos ? std::string_view() : dir.substr(0, slash);
  }
}

void KnownKeys::deleted(const std::string& key) {
  files_.erase(key);
}

void KnownKeys::complete(std::string prefix) {
  complete_.insert(std::move(prefix));
}

bool KnownKeys::known(std::string_view key) const {
  if (complete_.empty()) return false;
  if (complete_.contains(std::string_view())) return true;
  for (auto slash = key.rfind('/'); slash != std::string_view::npos;
       slash = slash == 0 ? std::string_view::npos : key.rfind('/', slash - 1)) {
    if (complete_.contains(key.substr(0, slash + 1))) return true;
  }
  return false;
}

bool KnownKeys::may_be_file(std::string_view key) const {
  return !known(key) || files_.contains(std::string(key));
}

bool KnownKeys::may_have_children(std::string_view key) const {
  return !known(key) || dirs_.contains(std::string(key));
}

}  // namespace tetherd::stores::s3
