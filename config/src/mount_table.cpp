#include "mount_table.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "json_document.hpp"
#include "path_checks.hpp"

namespace tetherd::config::detail {

namespace fs = std::filesystem;

namespace {

bool is_octal(char digit) {
  return digit >= '0' && digit <= '7';
}

// The fields of one line, split at spaces (mountinfo escapes the spaces within a field).
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= line.size()) {
    const std::size_t end = std::min(line.find(' ', start), line.size());
    if (end > start) fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
  return fields;
}

// `path` as a path of the filesystem `mount` shows; `path` lies at or below its mount point.
fs::path in_filesystem(const Mount& mount, const fs::path& path) {
  const fs::path below = path.lexically_relative(mount.mount_point);
  if (below.empty() || below == ".") return mount.root;
  return normalize_absolute((mount.root / below).string());
}

}  // namespace

std::string unescape_mountinfo(std::string_view field) {
  std::string text;
  text.reserve(field.size());
  for (std::size_t index = 0; index < field.size(); ++index) {
    if (field[index] == '\\' && index + 3 < field.size() && is_octal(field[index + 1]) &&
        is_octal(field[index + 2]) && is_octal(field[index + 3])) {
      const int value =
          (field[index + 1] - '0') * 64 + (field[index + 2] - '0') * 8 + (field[index + 3] - '0');
      text.push_back(static_cast<char>(value));
      index += 3;
    } else {
      text.push_back(field[index]);
    }
  }
  return text;
}

std::optional<MountTable> MountTable::read() {
  std::ifstream file("/proc/self/mountinfo", std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return std::nullopt;
  return parse(text.str());
}

MountTable MountTable::parse(std::string_view mountinfo) {
  MountTable table;
  std::size_t start = 0;
  while (start < mountinfo.size()) {
    const std::size_t end = std::min(mountinfo.find('\n', start), mountinfo.size());
    const std::vector<std::string_view> fields = fields_of(mountinfo.substr(start, end - start));
    start = end + 1;
    if (fields.size() < 5 || fields[2].find(':') == std::string_view::npos) continue;
    const fs::path root = unescape_mountinfo(fields[3]);
    const fs::path mount_point = unescape_mountinfo(fields[4]);
    if (!root.is_absolute() || !mount_point.is_absolute()) continue;
    table.mounts_.push_back(Mount{std::string(fields[0]), std::string(fields[1]),
                                  std::string(fields[2]), normalize_absolute(root.string()),
                                  normalize_absolute(mount_point.string())});
  }
  return table;
}

const Mount* MountTable::containing(const fs::path& path) const {
  const Mount* found = nullptr;
  for (const Mount& mount : mounts_) {
    // Both mount points lie above `path`: the longer one is the deeper.
    if (is_within(path, mount.mount_point) &&
        (found == nullptr ||
         mount.mount_point.native().size() > found->mount_point.native().size())) {
      found = &mount;
    }
  }
  // Mounts stacked on one point: each is the child of the one it covers. (Bounded: a
  // malformed table may name a loop of parents.)
  for (std::size_t step = 0; found != nullptr && step < mounts_.size(); ++step) {
    const auto cover = std::find_if(mounts_.begin(), mounts_.end(), [found](const Mount& mount) {
      return &mount != found && mount.parent_id == found->id &&
             mount.mount_point == found->mount_point;
    });
    if (cover == mounts_.end()) break;
    found = &*cover;
  }
  return found;
}

std::optional<fs::path> MountTable::seen_within(const fs::path& inner,
                                                const fs::path& outer) const {
  const Mount* inner_mount = containing(inner);
  const Mount* outer_mount = containing(outer);
  if (inner_mount == nullptr || outer_mount == nullptr ||
      inner_mount->device != outer_mount->device) {
    return std::nullopt;
  }
  const fs::path inner_in_filesystem = in_filesystem(*inner_mount, inner);
  const fs::path outer_in_filesystem = in_filesystem(*outer_mount, outer);
  if (!is_within(inner_in_filesystem, outer_in_filesystem)) return std::nullopt;
  const fs::path below = inner_in_filesystem.lexically_relative(outer_in_filesystem);
  if (below.empty() || below == ".") return outer;
  return normalize_absolute((outer / below).string());
}

std::string bind_mount_note(const fs::path& path, const fs::path& seen) {
  return "through a bind mount, " + quote(path.string()) + " is " + quote(seen.string());
}

}  // namespace tetherd::config::detail
