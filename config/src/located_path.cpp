#include "located_path.hpp"

#include <sys/stat.h>

#include <algorithm>

#include "json_document.hpp"
#include "path_checks.hpp"

namespace tetherd::config::detail {

namespace fs = std::filesystem;

LocatedPath LocatedPath::locate(const fs::path& path) {
  LocatedPath located;
  located.path_ = resolve(path);
  for (const fs::path& part : located.path_.relative_path()) {
    if (!part.empty()) located.names_.push_back(part.string());
  }
  // stat() answers for a mount point with the mounted directory: the identity is what the
  // daemon would open. A prefix that cannot be looked at (missing, not a directory, no
  // permission) ends the existing part.
  fs::path prefix = "/";
  for (std::size_t count = 0; count <= located.names_.size(); ++count) {
    if (count > 0) prefix /= located.names_[count - 1];
    struct stat info {};
    if (::stat(prefix.c_str(), &info) != 0) break;
    located.ids_.push_back(FileId{info.st_dev, info.st_ino});
  }
  if (located.ids_.empty()) located.ids_.push_back(FileId{});  // "/" unreadable: matches nothing
  return located;
}

std::optional<std::size_t> LocatedPath::within(const LocatedPath& outer) const {
  const std::size_t outer_count = outer.ids_.size() - 1;
  const FileId& outer_id = outer.ids_[outer_count];
  const std::size_t missing = outer.names_.size() - outer_count;
  for (std::size_t count = ids_.size(); count-- > 0;) {
    if (ids_[count] != outer_id || outer_id.inode == 0 || names_.size() - count < missing) continue;
    // Below the directory both reach, the names `outer` still lacks must follow here too.
    if (std::equal(outer.names_.begin() + static_cast<std::ptrdiff_t>(outer_count),
                   outer.names_.end(), names_.begin() + static_cast<std::ptrdiff_t>(count))) {
      return count;
    }
  }
  return std::nullopt;
}

bool LocatedPath::same_as(const LocatedPath& other) const {
  const auto count = within(other);
  return count && names_.size() - *count == other.names_.size() - (other.ids_.size() - 1);
}

fs::path LocatedPath::prefix(std::size_t count) const {
  fs::path result = "/";
  for (std::size_t index = 0; index < count && index < names_.size(); ++index) {
    result /= names_[index];
  }
  return result;
}

std::string same_directory_note(const LocatedPath& inner, std::size_t count,
                                const LocatedPath& outer) {
  const fs::path inner_prefix = inner.prefix(count);
  const fs::path outer_prefix = outer.deepest_existing();
  if (inner_prefix == outer_prefix) return "";
  return quote(inner_prefix.string()) + " and " + quote(outer_prefix.string()) +
         " are one directory (a bind mount)";
}

}  // namespace tetherd::config::detail
