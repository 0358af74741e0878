#include "tetherd/engine/planner.hpp"

#include <algorithm>

namespace tetherd::daemon {

using core::EntryType;

TargetState TargetState::from(const core::EntryInfo& info) {
  TargetState state;
  state.type = info.type;
  state.size = info.size;
  if (info.mtime) state.mtime_ns = info.mtime->time_since_epoch().count();
  state.mode = info.mode;
  if (info.link_target) state.link_target = *info.link_target;
  return state;
}

std::string_view to_string(ActionKind kind) noexcept {
  switch (kind) {
    case ActionKind::Mkdir:
      return "mkdir";
    case ActionKind::Write:
      return "copy";
    case ActionKind::Symlink:
      return "symlink";
    case ActionKind::SetAttrs:
      return "attrs";
    case ActionKind::Remove:
    case ActionKind::RemoveTree:
      return "delete";
  }
  return "unknown";
}

bool Plan::deletes() const noexcept {
  for (ActionKind action : actions) {
    if (action == ActionKind::Remove || action == ActionKind::RemoveTree) return true;
  }
  return false;
}

namespace {

std::int64_t floor_div(std::int64_t value, std::int64_t divisor) noexcept {
  const std::int64_t quotient = value / divisor;
  return (value % divisor != 0 && value < 0) ? quotient - 1 : quotient;
}

bool mtime_matches(const SourceEntry& source, const TargetState& target,
                   const MirrorPolicy& policy) noexcept {
  if (!target.mtime_ns) return false;
  if (policy.preserve_mtime && policy.mtime_precision) {
    const std::int64_t precision = std::max<std::int64_t>(1, policy.mtime_precision->count());
    std::int64_t wanted = source.mtime_ns;
    if (policy.mtime_range) {
      constexpr std::int64_t kSecond = 1'000'000'000;
      wanted = std::clamp(wanted, policy.mtime_range->first_second * kSecond,
                          policy.mtime_range->last_second * kSecond + (kSecond - 1));
    }
    // Equal once both are truncated to the store's granularity, as the kernel truncates
    // (towards the past, also before 1970).
    return floor_div(wanted, precision) == floor_div(*target.mtime_ns, precision);
  }
  // The target's mtime is the time of the copy: up to date when the copy is newer than the
  // last change of the source.
  return *target.mtime_ns >= source.mtime_ns;
}

bool mode_matches(const SourceEntry& source, const TargetState& target,
                  const MirrorPolicy& policy) noexcept {
  if (!policy.preserve_mode || !policy.target_keeps_mode || !target.mode) return true;
  return *target.mode == source.mode;
}

/// Actions that clear whatever the target has at the path.
void clear_target(const TargetState& target, std::vector<ActionKind>& actions) {
  actions.push_back(target.type == EntryType::Directory ? ActionKind::RemoveTree
                                                        : ActionKind::Remove);
}

std::string type_name(EntryType type) {
  switch (type) {
    case EntryType::File:
      return "a file";
    case EntryType::Directory:
      return "a directory";
    case EntryType::Symlink:
      return "a symlink";
    case EntryType::Other:
      return "a special file";
  }
  return "an entry";
}

}  // namespace

bool file_up_to_date(const SourceEntry& source, const TargetState& target,
                     const MirrorPolicy& policy) noexcept {
  return target.type == EntryType::File && source.type == EntryType::File &&
         target.size == source.size && mtime_matches(source, target, policy) &&
         mode_matches(source, target, policy);
}

Plan plan_path(const std::optional<SourceEntry>& source, const std::optional<TargetState>& target,
               const MirrorPolicy& policy, bool deletes_allowed) {
  Plan plan;
  if (!source) {
    if (target && deletes_allowed) clear_target(*target, plan.actions);
    return plan;
  }

  EntryType wanted = source->type;
  // An entry that is not mirrored: the target keeps nothing at its path (whatever is there
  // came from an entry the source no longer has), as for an absent one.
  const auto unmirrorable = [&](std::string why) {
    plan.unmirrorable = true;
    plan.refused = std::move(why);
    if (target && deletes_allowed) clear_target(*target, plan.actions);
    return plan;
  };
  if (wanted == EntryType::Other) {
    return unmirrorable("not a regular file, directory or symlink: not mirrored");
  }
  if (wanted == EntryType::Symlink) {
    if (policy.symlinks == config::SymlinkMode::Skip) return unmirrorable("");
    if (!policy.target_has_symlinks) {
      return unmirrorable("symlink not mirrored: the target store cannot hold symlinks");
    }
  }

  // A different type at the target must go first; that is a delete.
  if (target && target->type != wanted) {
    if (!deletes_allowed) {
      plan.refused = "the source has " + type_name(wanted) + " where the target has " +
                     type_name(target->type) + "; not replaced because deletes are off";
      return plan;
    }
    clear_target(*target, plan.actions);
  }
  const bool present = target && target->type == wanted;

  switch (wanted) {
    case EntryType::Directory:
      if (!present) {
        plan.actions.push_back(ActionKind::Mkdir);  // with the source's mode, when preserved
      } else if (!mode_matches(*source, *target, policy)) {
        plan.actions.push_back(ActionKind::SetAttrs);
      }
      break;
    case EntryType::File:
      if (!present || target->size != source->size || !mtime_matches(*source, *target, policy)) {
        plan.actions.push_back(ActionKind::Write);
      } else if (!mode_matches(*source, *target, policy)) {
        plan.actions.push_back(ActionKind::SetAttrs);
      }
      break;
    case EntryType::Symlink:
      if (present && target->link_target != source->link_target) {
        plan.actions.push_back(ActionKind::Remove);
        plan.actions.push_back(ActionKind::Symlink);
      } else if (!present) {
        plan.actions.push_back(ActionKind::Symlink);
      }
      break;
    case EntryType::Other:
      break;
  }
  return plan;
}

}  // namespace tetherd::daemon
