#include "tetherd/engine/planner.hpp"

#include <doctest/doctest.h>

using tetherd::config::SymlinkMode;
using tetherd::core::EntryType;
using tetherd::daemon::ActionKind;
using tetherd::daemon::file_up_to_date;
using tetherd::daemon::MirrorPolicy;
using tetherd::daemon::plan_path;
using tetherd::daemon::SourceEntry;
using tetherd::daemon::TargetState;
using Actions = std::vector<ActionKind>;

namespace {

SourceEntry source_file(std::uint64_t size = 10, std::int64_t mtime = 1'000'000'123,
                        std::uint32_t mode = 0644) {
  SourceEntry entry;
  entry.path = "a";
  entry.type = EntryType::File;
  entry.size = size;
  entry.mtime_ns = mtime;
  entry.mode = mode;
  return entry;
}

SourceEntry source_of(EntryType type, std::string link = {}) {
  SourceEntry entry = source_file(0);
  entry.type = type;
  entry.link_target = std::move(link);
  entry.mode = 0755;
  return entry;
}

TargetState target_file(std::uint64_t size = 10, std::int64_t mtime = 1'000'000'123,
                        std::uint32_t mode = 0644) {
  TargetState state;
  state.type = EntryType::File;
  state.size = size;
  state.mtime_ns = mtime;
  state.mode = mode;
  return state;
}

TargetState target_of(EntryType type, std::string link = {}) {
  TargetState state;
  state.type = type;
  state.link_target = std::move(link);
  state.mode = 0755;
  return state;
}

MirrorPolicy full_policy() {
  MirrorPolicy policy;
  policy.preserve_mtime = true;
  policy.preserve_mode = true;
  return policy;
}

}  // namespace

TEST_CASE("a new file is copied, an identical one is left alone") {
  CHECK(plan_path(source_file(), std::nullopt, full_policy(), true).actions ==
        Actions{ActionKind::Write});
  CHECK(plan_path(source_file(), target_file(), full_policy(), true).actions.empty());
  CHECK(file_up_to_date(source_file(), target_file(), full_policy()));
}

TEST_CASE("size or mtime differences copy; a mode difference only fixes attributes") {
  CHECK(plan_path(source_file(11), target_file(10), full_policy(), true).actions ==
        Actions{ActionKind::Write});
  CHECK(plan_path(source_file(10, 5), target_file(10, 6), full_policy(), true).actions ==
        Actions{ActionKind::Write});
  CHECK(
      plan_path(source_file(10, 5, 0600), target_file(10, 5, 0644), full_policy(), true).actions ==
      Actions{ActionKind::SetAttrs});
}

TEST_CASE("mtime is compared at the store's precision") {
  MirrorPolicy policy = full_policy();
  policy.mtime_precision = std::chrono::seconds(1);
  CHECK(plan_path(source_file(10, 7'123'456'789), target_file(10, 7'000'000'000), policy, true)
            .actions.empty());
  CHECK(plan_path(source_file(10, 8'000'000'001), target_file(10, 7'000'000'000), policy, true)
            .actions == Actions{ActionKind::Write});
  // Before 1970 the kernel truncates towards the past too: -0.5 s is kept as -1 s.
  CHECK(plan_path(source_file(10, -500'000'000), target_file(10, -1'000'000'000), policy, true)
            .actions.empty());
  CHECK(plan_path(source_file(10, -500'000'000), target_file(10, 0), policy, true).actions ==
        Actions{ActionKind::Write});
  // FAT keeps 2 s.
  policy.mtime_precision = std::chrono::seconds(2);
  CHECK(plan_path(source_file(10, 7'999'999'999), target_file(10, 6'000'000'000), policy, true)
            .actions.empty());
}

TEST_CASE("an mtime the target cannot hold compares as the end of its range it was kept as") {
  MirrorPolicy policy;
  policy.mtime_precision = std::chrono::seconds(1);
  policy.mtime_range = tetherd::core::CapabilitySet::MtimeRange{0, 0xFFFFFFFFll};
  constexpr std::int64_t second = 1'000'000'000;
  // 1960 is kept as 0 by SFTP v3; 2200 as its last second.
  CHECK(file_up_to_date(source_file(10, -315'619'200 * second), target_file(10, 0), policy));
  CHECK(file_up_to_date(source_file(10, 7'258'118'400 * second + 5),
                        target_file(10, 0xFFFFFFFFll * second), policy));
  CHECK_FALSE(
      file_up_to_date(source_file(10, -315'619'200 * second), target_file(10, second), policy));
  // Within the range nothing changes.
  CHECK_FALSE(file_up_to_date(source_file(10, 5 * second), target_file(10, 0), policy));
  // Without a range the first copy of such a file would look out of date for ever.
  policy.mtime_range.reset();
  CHECK_FALSE(file_up_to_date(source_file(10, -315'619'200 * second), target_file(10, 0), policy));
}

TEST_CASE("without mtime preservation a copy newer than the source is up to date") {
  MirrorPolicy policy = full_policy();
  policy.preserve_mtime = false;
  CHECK(plan_path(source_file(10, 5), target_file(10, 9), policy, true).actions.empty());
  CHECK(plan_path(source_file(10, 9), target_file(10, 5), policy, true).actions ==
        Actions{ActionKind::Write});
}

TEST_CASE("mode is ignored when not preserved or not kept by the store") {
  MirrorPolicy policy = full_policy();
  policy.preserve_mode = false;
  CHECK(
      plan_path(source_file(10, 5, 0600), target_file(10, 5, 0644), policy, true).actions.empty());
  policy = full_policy();
  policy.target_keeps_mode = false;
  CHECK(
      plan_path(source_file(10, 5, 0600), target_file(10, 5, 0644), policy, true).actions.empty());
}

TEST_CASE("a missing source deletes only when deletes are allowed") {
  CHECK(plan_path(std::nullopt, target_file(), full_policy(), true).actions ==
        Actions{ActionKind::Remove});
  CHECK(plan_path(std::nullopt, target_of(EntryType::Directory), full_policy(), true).actions ==
        Actions{ActionKind::RemoveTree});
  CHECK(plan_path(std::nullopt, target_file(), full_policy(), false).actions.empty());
  CHECK(plan_path(std::nullopt, std::nullopt, full_policy(), true).actions.empty());
}

TEST_CASE("directories are created (the mkdir carries the mode) and fixed when it differs") {
  CHECK(plan_path(source_of(EntryType::Directory), std::nullopt, full_policy(), true).actions ==
        Actions{ActionKind::Mkdir});
  CHECK(plan_path(source_of(EntryType::Directory), target_of(EntryType::Directory), full_policy(),
                  true)
            .actions.empty());
  TargetState other_mode = target_of(EntryType::Directory);
  other_mode.mode = 0700;
  CHECK(plan_path(source_of(EntryType::Directory), other_mode, full_policy(), true).actions ==
        Actions{ActionKind::SetAttrs});
}

TEST_CASE("type changes replace the target only when deletes are allowed") {
  CHECK(plan_path(source_file(), target_of(EntryType::Directory), full_policy(), true).actions ==
        Actions{ActionKind::RemoveTree, ActionKind::Write});
  CHECK(plan_path(source_of(EntryType::Directory), target_file(), full_policy(), true).actions ==
        Actions{ActionKind::Remove, ActionKind::Mkdir});
  CHECK(plan_path(source_of(EntryType::Symlink, "x"), target_of(EntryType::Directory),
                  full_policy(), true)
            .actions == Actions{ActionKind::RemoveTree, ActionKind::Symlink});
  const auto refused =
      plan_path(source_file(), target_of(EntryType::Directory), full_policy(), false);
  CHECK(refused.actions.empty());
  CHECK(refused.refused.find("deletes are off") != std::string::npos);
}

TEST_CASE("symlinks are recreated when their target text differs, skipped on request") {
  CHECK(plan_path(source_of(EntryType::Symlink, "x"), std::nullopt, full_policy(), true).actions ==
        Actions{ActionKind::Symlink});
  CHECK(plan_path(source_of(EntryType::Symlink, "x"), target_of(EntryType::Symlink, "x"),
                  full_policy(), true)
            .actions.empty());
  CHECK(plan_path(source_of(EntryType::Symlink, "x"), target_of(EntryType::Symlink, "y"),
                  full_policy(), true)
            .actions == Actions{ActionKind::Remove, ActionKind::Symlink});
  MirrorPolicy skip = full_policy();
  skip.symlinks = SymlinkMode::Skip;
  CHECK(plan_path(source_of(EntryType::Symlink, "x"), std::nullopt, skip, true).actions.empty());
  MirrorPolicy no_links = full_policy();
  no_links.target_has_symlinks = false;
  const auto refused = plan_path(source_of(EntryType::Symlink, "x"), std::nullopt, no_links, true);
  CHECK(refused.actions.empty());
  CHECK_FALSE(refused.refused.empty());
}

TEST_CASE("what the target holds where the source has an entry it cannot mirror is stale") {
  // A directory mirrored before, where the source now has a symlink the store cannot hold
  // (or skips, or a special file): the target keeps nothing there, as for an absent entry.
  MirrorPolicy no_links = full_policy();
  no_links.target_has_symlinks = false;
  const auto link = plan_path(source_of(EntryType::Symlink, "x"), target_of(EntryType::Directory),
                              no_links, true);
  CHECK(link.actions == Actions{ActionKind::RemoveTree});
  CHECK(link.unmirrorable);
  CHECK_FALSE(link.refused.empty());
  MirrorPolicy skip = full_policy();
  skip.symlinks = SymlinkMode::Skip;
  CHECK(plan_path(source_of(EntryType::Symlink, "x"), target_of(EntryType::File), skip, true)
            .actions == Actions{ActionKind::Remove});
  CHECK(plan_path(source_of(EntryType::Other), target_of(EntryType::File), full_policy(), true)
            .actions == Actions{ActionKind::Remove});
  // Deletes off: it stays.
  const auto kept = plan_path(source_of(EntryType::Symlink, "x"), target_of(EntryType::Directory),
                              no_links, false);
  CHECK(kept.actions.empty());
  CHECK(kept.unmirrorable);
}

TEST_CASE("special files are never mirrored") {
  const auto plan = plan_path(source_of(EntryType::Other), std::nullopt, full_policy(), true);
  CHECK(plan.actions.empty());
  CHECK_FALSE(plan.refused.empty());
}
