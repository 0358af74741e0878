#pragma once

// The planner: what to do to one path of the target, given what the source has now and
// what the target has. A pure function (no I/O) so that live changes and reconciliation
// decide exactly alike, and so that every rule of the table is unit-tested.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/config/config.hpp"
#include "tetherd/core/store.hpp"
#include "tetherd/engine/source_tree.hpp"

namespace tetherd::daemon {

/// What the target holds at a path (from a listing, a stat, or the mirror index).
struct TargetState {
  core::EntryType type = core::EntryType::File;
  std::uint64_t size = 0;
  std::optional<std::int64_t> mtime_ns;
  std::optional<std::uint32_t> mode;
  std::string link_target;

  static TargetState from(const core::EntryInfo& info);
};

/// How a rule mirrors, reduced to what decisions need.
struct MirrorPolicy {
  bool preserve_mtime = true;
  bool preserve_mode = false;
  config::SymlinkMode symlinks = config::SymlinkMode::Copy;
  /// Granularity of the target's mtimes (nullopt: the store keeps none).
  std::optional<std::chrono::nanoseconds> mtime_precision = std::chrono::nanoseconds(1);
  /// The times the target can hold: a source mtime outside compares as the nearer end
  /// (what a copy stores), so such a file is not copied again on every walk.
  std::optional<core::CapabilitySet::MtimeRange> mtime_range;
  bool target_has_symlinks = true;
  bool target_keeps_mode = true;
};

enum class ActionKind {
  Mkdir,       ///< create the directory (and parents)
  Write,       ///< copy the source file's content (atomic), with mtime/mode per policy
  Symlink,     ///< create a symlink holding the source's link target
  SetAttrs,    ///< fix mtime and/or mode only
  Remove,      ///< remove a file or symlink
  RemoveTree,  ///< remove a directory and everything beneath it
};
std::string_view to_string(ActionKind kind) noexcept;

struct Plan {
  /// Actions for this path, to run in order (e.g. RemoveTree then Write on a type change).
  std::vector<ActionKind> actions;
  /// Why the source's entry is not mirrored (a symlink the store cannot hold, a special
  /// file, a type change refused because deletes are off); empty otherwise.
  std::string refused;
  /// The source's entry has no counterpart on the target (a special file, a symlink that is
  /// skipped or that the store cannot hold): what the target holds there is stale, and
  /// the actions (when deletes are allowed) only remove it.
  bool unmirrorable = false;
  bool deletes() const noexcept;
};

/// Whether the target's file already has the source file's content and metadata as the
/// policy requires (the "unchanged" test of reconciliation).
bool file_up_to_date(const SourceEntry& source, const TargetState& target,
                     const MirrorPolicy& policy) noexcept;

/// Decides what turns `target` into a mirror of `source` at one path. `source` nullopt:
/// the source has nothing there. `target` nullopt: the target has nothing there.
/// `deletes_allowed`: whether the rule's delete mode permits deleting now.
Plan plan_path(const std::optional<SourceEntry>& source, const std::optional<TargetState>& target,
               const MirrorPolicy& policy, bool deletes_allowed);

}  // namespace tetherd::daemon
