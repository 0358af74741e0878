#include "tetherd/core/change.hpp"

namespace tetherd::core {

std::string_view to_string(ChangeKind kind) noexcept {
  switch (kind) {
    case ChangeKind::created:
      return "created";
    case ChangeKind::modified:
      return "modified";
    case ChangeKind::attrib:
      return "attrib";
    case ChangeKind::removed:
      return "removed";
    case ChangeKind::moved:
      return "moved";
    case ChangeKind::rescan:
      return "rescan";
    case ChangeKind::root_gone:
      return "root_gone";
  }
  return "unknown";
}

std::string join_relative(std::string_view directory, std::string_view name) {
  if (directory.empty()) return std::string(name);
  if (name.empty()) return std::string(directory);
  std::string joined;
  joined.reserve(directory.size() + 1 + name.size());
  joined.append(directory);
  joined.push_back('/');
  joined.append(name);
  return joined;
}

}  // namespace tetherd::core
