#include "tetherd/config/path_overlap.hpp"

#include "json_document.hpp"
#include "located_path.hpp"
#include "mount_table.hpp"
#include "path_checks.hpp"

namespace tetherd::config {

namespace fs = std::filesystem;
using detail::LocatedPath;

namespace {

std::string quoted(const fs::path& path) {
  return detail::quote(path.string());
}

}  // namespace

std::optional<std::string> source_target_overlap(const fs::path& given_source,
                                                 const fs::path& given_target) {
  const fs::path source = detail::normalize_absolute(given_source.string());
  const fs::path target = detail::normalize_absolute(given_target.string());
  const LocatedPath real_source = LocatedPath::locate(source);
  const LocatedPath real_target = LocatedPath::locate(target);
  const std::string source_name = quoted(source);
  const std::string target_name = quoted(target);
  enum class Relation { same, target_inside, source_inside } relation = Relation::same;
  std::string mount_note;
  if (const auto count = real_target.within(real_source)) {
    mount_note = detail::same_directory_note(real_target, *count, real_source);
    relation = real_target.same_as(real_source) ? Relation::same : Relation::target_inside;
  } else if (const auto source_count = real_source.within(real_target)) {
    mount_note = detail::same_directory_note(real_source, *source_count, real_target);
    relation = Relation::source_inside;
  } else if (const auto table = detail::MountTable::read()) {
    // A bind mount of a directory below the other path: no prefix has the other's identity,
    // but the mount table shows both in one filesystem, one within the other.
    if (const auto seen = table->seen_within(real_target.path(), real_source.path())) {
      mount_note = detail::bind_mount_note(real_target.path(), *seen);
      relation = Relation::target_inside;
    } else if (const auto seen_source =
                   table->seen_within(real_source.path(), real_target.path())) {
      mount_note = detail::bind_mount_note(real_source.path(), *seen_source);
      relation = Relation::source_inside;
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  std::string message;
  switch (relation) {
    case Relation::same:
      message = "the target " + target_name + " is the source directory itself";
      break;
    case Relation::target_inside:
      message = "the target " + target_name + " is inside the source " + source_name +
                " (the mirror would copy itself)";
      break;
    case Relation::source_inside:
      message = "the source " + source_name + " is inside the target " + target_name +
                " (the mirror would delete or overwrite its own source)";
      break;
  }
  if (real_source.path() != source || real_target.path() != target) {
    message += "; after resolving symbolic links: source " + quoted(real_source.path()) +
               ", target " + quoted(real_target.path());
  }
  if (!mount_note.empty()) message += "; " + mount_note;
  return message;
}

}  // namespace tetherd::config
