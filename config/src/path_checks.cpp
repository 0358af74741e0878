#include "path_checks.hpp"

#include <system_error>

namespace tetherd::config::detail {

namespace fs = std::filesystem;

fs::path normalize_absolute(const std::string& text) {
  fs::path path = fs::path(text).lexically_normal();
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();
  return path;
}

bool is_within(const fs::path& inner, const fs::path& outer) {
  auto inner_it = inner.begin();
  for (auto outer_it = outer.begin(); outer_it != outer.end(); ++outer_it) {
    if (outer_it->empty()) continue;  // a trailing separator matches nothing
    if (inner_it == inner.end() || *inner_it != *outer_it) return false;
    ++inner_it;
  }
  return true;
}

fs::path resolve(const fs::path& path) {
  std::error_code error;
  const fs::path resolved = fs::weakly_canonical(path, error);
  if (error) return path;
  return normalize_absolute(resolved.string());
}

}  // namespace tetherd::config::detail
