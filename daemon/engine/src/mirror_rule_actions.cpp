// MirrorRule: examining one dirty path and running its actions against the store.
//
// Order per path: stat the source (fresh, on a worker), learn the target's state (from a
// listing just made, else a store stat), try a server-side move for a rename, plan, then
// run the planned actions one after the other. Each action logs one event.

#include <cstdio>

#include "tetherd/engine/mirror_rule.hpp"

namespace tetherd::daemon {

using core::EntryType;
using core::Errc;
using core::StoreError;
using core::StoreKey;

struct MirrorRule::Examination {
  std::string path;
  StoreKey key;
  Dirty entry;
  std::optional<SourceEntry> source;
  bool root_intact = true;
  std::optional<TargetState> target;
  Plan plan;
  std::size_t next_action = 0;
  bool moved = false;
  bool target_root_checked = false;
  Clock::time_point action_started{};
};

namespace {

/// How long a new arrival waits for the watcher to report its unpaired renames: longer
/// than its rename timeout (20 ms), so the removal that may be this entry's other half
/// has been seen.
constexpr std::chrono::milliseconds kUnpairedRenameWait{30};
/// How long after its parent's turn a path whose parent was not ready is looked at again.
constexpr std::chrono::milliseconds kAfterParent{1};
/// A copy begun this soon after the file's mtime is racy (Mirrored::racy): ten times the
/// tick of ext4, XFS or btrfs without fine-grained timestamps (1 to 10 ms). On FAT (2 s
/// ticks), a copy made later than this after a write, then a same-size rewrite within the
/// same 2 s, still look alike; a window that wide would copy again every file whose close
/// came a second after its last write.
constexpr std::int64_t kRacyWindowNs = 100'000'000;

bool is_absence(Errc code) noexcept {
  return code == Errc::NotFound || code == Errc::NotADirectory;
}

/// Target failures a removed root directory would cause (a write below a removed directory
/// fails with EPERM or ENOENT).
bool may_mean_target_root_gone(const StoreError& error) noexcept {
  return error.side == core::ErrorSide::target &&
         (error.code == Errc::PermissionDenied || is_absence(error.code));
}

}  // namespace

void MirrorRule::start_examine(std::string path, Dirty entry) {
  InFlight& work_in_flight = in_flight_[path];
  work_in_flight = InFlight{entry.seq, entry.moved_from};
  occupy(path, work_in_flight);
  auto key = StoreKey::parse(path);
  if (!key) {
    note_error(key.error(), path, "examine");
    finish_work(path, entry.seq);
    return;
  }
  auto work = std::make_shared<Examination>();
  work->path = std::move(path);
  work->key = std::move(*key);
  work->entry = std::move(entry);
  examine_with_source(std::move(work));
}

void MirrorRule::examine_with_source(std::shared_ptr<Examination> work) {
  struct Job {
    core::Result<SourceEntry> stat = StoreError::make(Errc::IoError);
    bool root_intact = true;
  };
  auto self = shared_from_this();
  if (work->entry.known_source &&
      source_fences_.still_valid(work->path, work->entry.known_source_stamp)) {
    std::optional<SourceEntry> listed = std::move(work->entry.known_source);
    work->entry.known_source.reset();
    // A listing just saw the path. When what it saw plans a plain copy of a file, the
    // second stat is skipped: the copy opens the file and takes content, mode and mtime
    // from what it opened, so a listing that is stale by now cannot make it wrong. The
    // same for a directory the target lacks: a mkdir only adds, and a rename or removal
    // since the listing raised a fence over the path (source_fences_). Any other plan (attributes,
    // type changes, deletes, nothing) needs the source as it is now.
    const ActionKind creation =
        listed->type == EntryType::File ? ActionKind::Write : ActionKind::Mkdir;
    if (work->entry.target_known &&
        (listed->type == EntryType::File || listed->type == EntryType::Directory)) {
      const Plan listed_plan = plan_path(listed, work->entry.known_target, policy_, false);
      if (listed_plan.refused.empty() && listed_plan.actions.size() == 1 &&
          listed_plan.actions.front() == creation) {
        work->source = std::move(listed);
        examine_with_target(std::move(work));
        return;
      }
    }
  }
  auto job = std::make_shared<Job>();
  stat_trips_->submit(
      [source = source_, path = work->path, job](StatScratch&) {
        job->stat = source->stat(path);
        if (!job->stat) job->root_intact = source->root_intact();
      },
      [self, work, job] {
        if (self->state_ == RuleState::stopping || self->state_ == RuleState::paused) {
          self->finish_work(work->path, work->entry.seq);
          return;
        }
        if (job->stat) {
          work->source = std::move(*job->stat);
        } else if (is_absence(job->stat.error().code)) {
          work->root_intact = job->root_intact;
          if (!job->root_intact) {
            // Never act on an absence while the root itself is gone.
            self->finish_work(work->path, work->entry.seq);
            self->root_gone("deleted or replaced");
            return;
          }
        } else if (job->stat.error().retryable) {
          self->retry_later(work->path, work->entry, job->stat.error());
          self->finish_work(work->path, work->entry.seq);
          return;
        } else {
          self->note_error(job->stat.error(), work->path, "stat");
          self->end_examination(work, std::nullopt);
          return;
        }
        self->examine_with_target(work);
      });
}

bool MirrorRule::target_stat_needless(const Examination& work) const {
  // A regular file whose content is not known to be mirrored (new, or changed since it
  // was): whatever the target holds at the path, the plan is a plain write. An atomic
  // write replaces a file or a symlink; a directory there makes it fail with IsDirectory,
  // and the next look (attempts > 0) stats the target. A rename needs the target's state.
  if (!work.source || work.source->type != EntryType::File || work.entry.attempts > 0 ||
      work.entry.moved_from || settings_.dry_run) {
    return false;
  }
  // A listing saw a file there but not whether it is up to date (listing_lacks_metadata).
  if (work.entry.target_known && work.entry.known_target) return false;
  const Mirrored* mirrored = index_.find(work.path);
  if (!mirrored) return true;
  const bool same_content =
      mirrored->device == work.source->device && mirrored->inode == work.source->inode &&
      mirrored->size == work.source->size && mirrored->mtime_ns == work.source->mtime_ns;
  return !same_content && mirrored->target_type() == EntryType::File;
}

void MirrorRule::examine_with_target(std::shared_ptr<Examination> work) {
  auto self = shared_from_this();
  auto decide = [self, work] {
    const bool is_dir =
        (work->source && work->source->type == EntryType::Directory) ||
        (!work->source && work->target && work->target->type == EntryType::Directory);
    if (work->path.empty()) {
      // The root itself: only its attributes are mirrored.
      if (!work->source || !work->target) {
        self->complete_examination(work);
        return;
      }
    } else if (!self->filter_->includes(work->path, is_dir)) {
      self->complete_examination(work);
      return;
    }
    if (!work->entry.moved_from && work->source && !self->settings_.dry_run &&
        !self->adopt_unpaired_rename(*work) && self->wait_for_unpaired_renames(*work)) {
      work->entry.awaited_renames = true;
      self->end_examination(work, self->executor_.now() + kUnpairedRenameWait);
      return;
    }
    if (work->entry.moved_from && work->source && !self->settings_.dry_run) {
      self->try_move(work);
      return;
    }
    self->run_actions(work);
  };
  // A listing may be older than an action that completed since; trusting it is harmless
  // for copies (they overwrite) but not for a missing source, where it could hide a file
  // that must be deleted: then the target is always stat'ed afresh. Nor can a listing
  // that carries no mtime (S3 lists sizes, not the metadata) show that a file of the
  // right size is up to date: its stat (one HEAD) can, and spares the copy.
  if (work->entry.target_known && work->source && !listing_lacks_metadata(*work)) {
    work->target = std::move(work->entry.known_target);
    work->entry.target_known = false;
    work->entry.known_target.reset();
    decide();
    return;
  }
  if (target_stat_needless(*work)) {
    decide();
    return;
  }
  settings_.target->stat(work->key, [self, work, decide](core::Result<core::EntryInfo> info) {
    if (info) {
      work->target = TargetState::from(*info);
    } else if (!is_absence(info.error().code)) {
      if (self->worth_retrying(info.error())) {
        self->retry_later(work->path, work->entry, info.error());
        self->finish_work(work->path, work->entry.seq);
      } else {
        self->note_error(info.error(), work->path, "stat");
        self->end_examination(work, std::nullopt);
      }
      return;
    }
    decide();
  });
}

bool MirrorRule::wait_for_unpaired_renames(Examination& work) const {
  if (work.entry.awaited_renames || !watcher_ || !watcher_->holds_unpaired_renames()) return false;
  const SourceEntry& source = *work.source;
  if (source.type != EntryType::File && source.type != EntryType::Directory) return false;
  const Mirrored* here = index_.find(work.path);
  return !here || here->device != source.device || here->inode != source.inode;
}

bool MirrorRule::adopt_unpaired_rename(Examination& work) {
  if (removed_identities_.size() == 0) return false;
  const SourceEntry& source = *work.source;
  if (source.type != EntryType::File && source.type != EntryType::Directory) return false;
  // Already mirrored here (an edit, not an arrival): nothing to adopt.
  if (const Mirrored* here = index_.find(work.path);
      here && here->device == source.device && here->inode == source.inode) {
    return false;
  }
  auto from = removed_identities_.take(source.device, source.inode);
  if (!from || *from == work.path) return false;
  // The old copy must still be there and not in anyone's hands: its removal not examined
  // yet (still pending), and nothing in flight on or around it.
  const Mirrored* old_copy = index_.find(*from);
  if (!old_copy || old_copy->device != source.device || old_copy->inode != source.inode ||
      old_copy->target_type() != source.type || !dirty_.contains(*from) ||
      busy_.overlapping(*from) != nullptr) {
    return false;
  }
  // Occupied like a rename's old path: its pending removal waits for this move. It stays
  // pending and is looked at after (a new entry may have been made there since).
  InFlight& in_flight = in_flight_[work.path];
  in_flight.moved_from = *from;
  busy_.occupy(*from);
  work.entry.moved_from = std::move(*from);
  return true;
}

void MirrorRule::try_move(std::shared_ptr<Examination> work) {
  const std::string& from = *work->entry.moved_from;
  const Mirrored* known = index_.find(from);
  const bool can_move =
      settings_.target->capabilities().has(core::Capability::Move) && known &&
      known->device == work->source->device && known->inode == work->source->inode &&
      known->target_type() == work->source->type &&
      (!work->target ||
       (work->target->type != EntryType::Directory && work->source->type != EntryType::Directory));
  auto from_key = StoreKey::parse(from);
  if (!can_move || !from_key) {
    run_actions(work);
    return;
  }
  auto self = shared_from_this();
  const auto started = executor_.now();
  touching_target(from);
  touching_target(work->path);
  settings_.target->move(*from_key, work->key, true,
                         [self, work, started](core::Result<void> moved) {
                           const std::string& from_path = *work->entry.moved_from;
                           self->touched_target(from_path);
                           self->touched_target(work->path);
                           if (!moved) {
                             if (self->worth_retrying(moved.error())) {
                               self->retry_later(work->path, work->entry, moved.error());
                               self->finish_work(work->path, work->entry.seq);
                               return;
                             }
                             // The old copy is not where we left it: copy instead (the old path is
                             // examined after).
                             self->run_actions(work);
                             return;
                           }
                           work->moved = true;
                           self->counters_.moves++;
                           self->log_.emit(Event(EventLevel::info, "move")
                                               .rule(self->settings_.name)
                                               .store(self->settings_.target->name())
                                               .path(work->path)
                                               .text("from", from_path)
                                               .result("ok")
                                               .duration(self->executor_.now() - started));
                           self->rename_subtree(from_path, work->path);
                           if (work->source->type == EntryType::Directory) {
                             self->forget_target_hints_within(work->path);
                           }
                           if (const Mirrored* now_known = self->index_.find(work->path))
                             work->target = now_known->target();
                           self->run_actions(work);
                         });
}

void MirrorRule::run_actions(std::shared_ptr<Examination> work) {
  const bool may_delete = deletes_allowed(work->entry.origin) && work->root_intact;
  work->plan = plan_path(work->source, work->target, policy_for(*work), may_delete);
  if (!work->source && (!work->target || work->target->type == EntryType::Directory)) {
    // Gone from the source, maybe a directory: what a walk saw inside it is stale (a mkdir
    // planned from it would bring back on the target a directory that is gone).
    source_fences_.raise(work->path);
  }
  if (work->source && work->source->type == EntryType::File && work->target &&
      work->target->type == EntryType::File &&
      std::find(work->plan.actions.begin(), work->plan.actions.end(), ActionKind::Write) ==
          work->plan.actions.end()) {
    // Size and mtime match the target's, yet the content may differ: another file now
    // (its inode is not the one mirrored: a same-size file renamed over it, times kept or
    // within one timestamp tick), or a write was reported after a racy copy (a same-size
    // write within one tick leaves the stat as it was). Only a copy can tell.
    const Mirrored* known = index_.find(work->path);
    if (known) {
      const bool other_file =
          known->device != work->source->device || known->inode != work->source->inode;
      const bool racy_write = (work->entry.content_changed || known->write_reported) &&
                              known->racy && known->size == work->source->size &&
                              known->mtime_ns == work->source->mtime_ns;
      if (other_file || racy_write) work->plan.actions = {ActionKind::Write};
    }
  }
  if (log_.wanted(EventLevel::debug)) {
    std::string actions;
    for (ActionKind kind : work->plan.actions) {
      if (!actions.empty()) actions += ',';
      actions += to_string(kind);
    }
    log_.emit(Event(EventLevel::debug, "plan")
                  .rule(settings_.name)
                  .path(work->path)
                  .flag("source", work->source.has_value())
                  .flag("target", work->target.has_value())
                  .text("actions", actions));
  }
  if (!work->plan.refused.empty()) {
    log_.emit(Event(EventLevel::warn, "skip")
                  .rule(settings_.name)
                  .path(work->path)
                  .message(work->plan.refused));
  }
  if (work->plan.actions.empty() && work->source && work->target && !work->plan.unmirrorable) {
    remember(*work->source, *work->target);
  }
  work->next_action = 0;
  run_next_action(std::move(work));
}

void MirrorRule::run_next_action(std::shared_ptr<Examination> work) {
  if (work->next_action >= work->plan.actions.size()) {
    complete_examination(work);
    return;
  }
  const ActionKind kind = work->plan.actions[work->next_action++];
  work->action_started = executor_.now();
  auto self = shared_from_this();
  const core::StorePtr& store = settings_.target;

  auto succeeded = [self, work, kind](std::uint64_t bytes) {
    self->touched_target(work->path);
    if (self->log_.wanted(EventLevel::info)) {
      Event event(EventLevel::info, to_string(kind));
      event.rule(self->settings_.name)
          .store(self->settings_.target->name())
          .path(work->path)
          .result(self->settings_.dry_run ? "dry-run" : "ok");
      if (kind == ActionKind::Write) event.bytes(bytes);
      event.duration(self->executor_.now() - work->action_started);
      self->log_.emit(event);
    }
    self->run_next_action(work);
  };
  if (settings_.dry_run) {
    succeeded(work->source ? work->source->size : 0);
    return;
  }
  touching_target(work->path);

  switch (kind) {
    case ActionKind::Remove:
    case ActionKind::RemoveTree: {
      if (!work->source && work->entry.origin == Origin::live &&
          !live_removal_allowed(work->path, kind == ActionKind::RemoveTree)) {
        finish_work(work->path, work->entry.seq);
        return;
      }
      // Either way the path is gone once the store says so, or says it was not there.
      auto removed = [self, work, succeeded](core::Result<void> outcome) {
        if (!outcome && outcome.error().code != Errc::NotFound) {
          self->action_failed(work, outcome.error());
          return;
        }
        self->counters_.deletes++;
        self->forget_subtree(work->path);
        succeeded(0);
      };
      if (kind == ActionKind::RemoveTree) {
        store->rmdir(work->key, true, removed);
        return;
      }
      store->remove(work->key, true, [self, work, removed](core::Result<void> outcome) {
        // A directory appeared where the plan saw a file: remove the tree.
        if (!outcome && outcome.error().code == Errc::IsDirectory) {
          self->settings_.target->rmdir(work->key, true, removed);
          return;
        }
        removed(std::move(outcome));
      });
      return;
    }
    case ActionKind::Mkdir: {
      // The directory is made with the source's mode in the same operation (no attrs step).
      core::MkdirOptions options;
      if (policy_.preserve_mode) options.mode = work->source->mode;
      store->mkdir(work->key, options,
                   [self, work, options, succeeded](core::Result<void> outcome) {
                     if (!outcome) {
                       self->action_failed(work, outcome.error());
                       return;
                     }
                     self->counters_.mkdirs++;
                     TargetState state;
                     state.type = EntryType::Directory;
                     state.mode = options.mode;
                     self->remember(*work->source, state);
                     succeeded(0);
                   });
      return;
    }
    case ActionKind::Symlink:
      store->symlink(work->key, work->source->link_target,
                     [self, work, succeeded](core::Result<void> outcome) {
                       if (!outcome) {
                         self->action_failed(work, outcome.error());
                         return;
                       }
                       self->counters_.symlinks++;
                       TargetState state;
                       state.type = EntryType::Symlink;
                       state.link_target = work->source->link_target;
                       self->remember(*work->source, state);
                       succeeded(0);
                     });
      return;
    case ActionKind::SetAttrs: {
      core::Attrs attrs;
      if (policy_.preserve_mode) attrs.mode = work->source->mode;
      if (policy_.preserve_mtime && work->source->type == EntryType::File) {
        attrs.mtime = core::TimePoint(std::chrono::nanoseconds(work->source->mtime_ns));
      }
      if (!attrs.mode && !attrs.mtime) {
        run_next_action(work);
        return;
      }
      store->set_attrs(work->key, attrs,
                       [self, work, attrs, succeeded](core::Result<void> outcome) {
                         if (!outcome) {
                           self->action_failed(work, outcome.error());
                           return;
                         }
                         self->counters_.attrs++;
                         // The index must say what the target holds now: a stale mode there would
                         // make a later move of this entry look complete with the old mode.
                         if (work->target) {
                           if (attrs.mode) work->target->mode = attrs.mode;
                           if (attrs.mtime) work->target->mtime_ns = work->source->mtime_ns;
                           self->remember(*work->source, *work->target);
                         }
                         succeeded(0);
                       });
      return;
    }
    case ActionKind::Write:
      break;
  }

  // Write: the store opens the source file on its worker (no trip of its own), refusing
  // it unless it is still in the examined state, and its identity is checked at the end.
  // A successful write carries exactly the examined state (the reader refuses any other).
  const SourceEntry& examined = *work->source;
  // Taken before the store reads a byte: if the mtime is older than the timestamp
  // granularity by then, any later write shows in the stat.
  const std::int64_t launched_ns = source_->now_ns();
  auto source = source_->reader(executor_, examined);
  core::WriteOptions options;
  options.overwrite = true;
  options.atomic = true;
  options.size_hint = examined.size;
  if (policy_.preserve_mtime) {
    options.mtime = core::TimePoint(std::chrono::nanoseconds(examined.mtime_ns));
  }
  if (policy_.preserve_mode) options.mode = examined.mode;
  store->write(work->key, source, options,
               [self, work, source, succeeded, launched_ns](core::Result<core::EntryInfo> written) {
                 if (!written) {
                   self->action_failed(work, written.error());
                   return;
                 }
                 const SourceEntry& state = *work->source;
                 self->counters_.copies++;
                 self->counters_.bytes += state.size;
                 self->remember(state, TargetState::from(*written),
                                launched_ns - state.mtime_ns < kRacyWindowNs);
                 succeeded(state.size);
               });
}

void MirrorRule::action_failed(std::shared_ptr<Examination> work, const StoreError& error) {
  touched_target(work->path);  // a failed action may still have changed something
  const std::string_view action =
      work->next_action > 0 ? to_string(work->plan.actions[work->next_action - 1]) : "examine";
  if (state_ == RuleState::stopping && error.code == Errc::Cancelled) {
    finish_work(work->path, work->entry.seq);
    return;
  }
  if (!work->target_root_checked && may_mean_target_root_gone(error) &&
      (state_ == RuleState::watching || state_ == RuleState::initial_sync)) {
    // Removed under us (rm -rf, an unmounted disk)? Then every write fails alike: pause
    // and wait for it, as for a vanished source root, instead of retrying each path.
    work->target_root_checked = true;
    auto self = shared_from_this();
    settings_.target->stat(StoreKey::root(),
                           [self, work, error](core::Result<core::EntryInfo> root) {
                             if (!root && is_absence(root.error().code)) {
                               self->finish_work(work->path, work->entry.seq);
                               self->target_root_gone();
                               return;
                             }
                             self->action_failed(work, error);
                           });
    return;
  }
  if (error.side == core::ErrorSide::source &&
      (is_absence(error.code) || error.code == Errc::InvalidPath ||
       error.code == Errc::IsDirectory)) {
    // The source changed type or vanished between the stat and the open: look again.
    end_examination(work, executor_.now());
    return;
  }
  const bool unexpected_target_shape =
      error.side != core::ErrorSide::source &&
      (error.code == Errc::AlreadyExists || error.code == Errc::NotFound ||
       error.code == Errc::NotADirectory || error.code == Errc::IsDirectory);
  if (unexpected_target_shape &&
      (error.code == Errc::NotFound || error.code == Errc::NotADirectory)) {
    if (const auto parent_due = pending_ancestor_due(work->path)) {
      // The parent is still to be mirrored (a file there becoming a directory, a retry
      // waiting out a fault): look again after it, without spending an attempt.
      end_examination(work, std::max(*parent_due, executor_.now()) + kAfterParent);
      return;
    }
    const auto slash = work->path.rfind('/');
    if (error.code == Errc::NotADirectory && slash != std::string::npos &&
        work->entry.attempts < 3) {
      // Nothing pending above, yet the target has a non-directory on the way (a file the
      // source replaced with a directory while no event could tell: before a restart, or
      // in a rescan waiting out a fault). Mirror the parent first, then look again; the
      // parent does the same for its own parent when it meets the same error.
      work->entry.attempts++;
      const auto now = executor_.now();
      mark_dirty(work->path.substr(0, slash), next_seq(), Origin::live, now, [](Dirty&) {});
      end_examination(work, now + kAfterParent);
      return;
    }
  }
  if (unexpected_target_shape && work->entry.attempts < 3) {
    // The target is not what the plan assumed (a listing raced with a live action, or
    // something else changed it): examine again with a fresh stat.
    work->entry.attempts++;
    end_examination(work, executor_.now());
    return;
  }
  if (error.code == Errc::PreconditionFailed && error.side == core::ErrorSide::source) {
    // Still being written: copy again once it is quiet.
    const auto wait =
        std::max<std::chrono::milliseconds>(settings_.delay, std::chrono::milliseconds(50));
    log_.emit(Event(EventLevel::debug, "retry")
                  .rule(settings_.name)
                  .path(work->path)
                  .message("source changed while being copied; copying again when quiet"));
    end_examination(work, executor_.now() + wait);
    return;
  }
  if (worth_retrying(error)) {
    retry_later(work->path, work->entry, error);
    finish_work(work->path, work->entry.seq);
    return;
  }
  note_error(error, work->path, action);
  end_examination(work, std::nullopt);
}

void MirrorRule::end_examination(const std::shared_ptr<Examination>& work,
                                 std::optional<Clock::time_point> again) {
  const Dirty& entry = work->entry;
  if (again) {
    // Look at this path again later, keeping what the first look was for. A change seen
    // while this look ran (most often the writer's close, after a copy that found the file
    // still growing) already asks for the next look: the retry's wait must not push it
    // back (it did, by 50 ms: the latency's p99).
    const Dirty* newer = dirty_.find(work->path);
    const Clock::time_point when = newer ? std::min(*again, newer->due) : *again;
    std::optional<std::string> displaced;
    mark_dirty(work->path, entry.seq, entry.origin, when, [&](Dirty& pending) {
      keep_old_path(pending, entry.moved_from, displaced);
      pending.created_directory = pending.created_directory || entry.created_directory;
      pending.attempts = std::max(pending.attempts, entry.attempts);
      pending.awaited_renames = pending.awaited_renames || entry.awaited_renames;
      pending.content_changed = pending.content_changed || entry.content_changed;
    });
    if (displaced) {
      mark_dirty(*displaced, next_seq(), Origin::live, executor_.now(), [](Dirty&) {});
    }
  } else if (entry.moved_from && !work->moved) {
    // Given up on the new path: the old one must still be looked at (as a removal).
    mark_dirty(*entry.moved_from, entry.seq, Origin::live, executor_.now(), [](Dirty&) {});
  }
  finish_work(work->path, entry.seq);
}

std::optional<MirrorRule::Clock::time_point> MirrorRule::pending_ancestor_due(
    std::string_view path) const {
  for (auto slash = path.rfind('/'); slash != std::string_view::npos; slash = path.rfind('/')) {
    path = path.substr(0, slash);
    if (const Dirty* pending = dirty_.find(path)) return pending->due;
  }
  return std::nullopt;
}

void MirrorRule::complete_examination(std::shared_ptr<Examination> work) {
  const Seq seq = work->entry.seq;
  if (!standing_errors_.empty()) {
    clear_standing_error(work->path, work->entry.origin == Origin::live,
                         work->source && work->source->type == EntryType::Directory);
    // Nothing within a path the source no longer has can fail to be mirrored (with deletes
    // kept back, nothing else would ever clear those errors).
    if (!work->source) standing_errors_.clear_within(work->path);
  }
  if (!work->plan.refused.empty() && !work->plan.unmirrorable) {
    // A type change the delete mode kept back: the source's entry is not on the target,
    // so settle and --once report it (as rsync without --delete does) until a later look
    // finds it resolved. Unmirrorable entries (special files, symlinks the target cannot
    // hold) are the configuration's choice and only warn.
    standing_errors_.stand(work->path, StandingErrors::Kind::action, work->plan.refused);
  }
  if (work->entry.moved_from && !work->moved) {
    // The rename could not be a move: the old path is examined like a removal.
    mark_dirty(*work->entry.moved_from, seq, Origin::live, executor_.now(), [](Dirty&) {});
  }
  const bool is_directory = work->source && work->source->type == EntryType::Directory;
  if (is_directory && (work->entry.created_directory || work->moved) &&
      filter_->should_descend(work->path)) {
    // A directory that appeared (created, moved in, or moved here): its contents may not
    // have produced events of their own; walk it.
    start_rescan(work->path, seq, Origin::running_scan);
  }
  finish_work(work->path, seq);
}

// ---- the mirror index -----------------------------------------------------------------

bool MirrorRule::live_removal_allowed(const std::string& path, bool tree) {
  if (state_ == RuleState::paused) return false;  // a pause stops removals already planned
  if (!live_delete_guard_.active()) return true;
  const std::uint64_t entries = 1 + (tree ? index_.count_within(path) : 0);
  // The index holds what is mirrored now; this window's deletions are already gone from it.
  const LiveDeleteGuard::Verdict verdict =
      live_delete_guard_.admit(executor_.now(), entries, index_.size());
  if (verdict.allowed) return true;
  char share[16];
  std::snprintf(share, sizeof share, "%.0f%%", verdict.percent);
  pause(PauseCause::mass_delete_guard,
        "mass-delete guard: live removals would delete " + std::to_string(verdict.would_delete) +
            " of about " + std::to_string(verdict.of_about) + " entries on the target within " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(live_delete_guard_.window())
                    .count()) +
            " s (" + share + "), more than max_delete_percent=" +
            std::to_string(settings_.max_delete_percent) + "; '" + path +
            "' and later removals were not mirrored. Check the source, then raise "
            "max_delete_percent or restart the rule to proceed",
        "paused");
  return false;
}

MirrorPolicy MirrorRule::policy_for(const Examination& work) const {
  // A target that keeps coarse mtimes (whole seconds, FAT's 2 s) cannot tell an edit made
  // within that granularity of the last copy (same size) from the copy. The index can: it
  // holds the source's exact mtime as mirrored, so a source whose mtime moved since is
  // compared exactly, and copied.
  if (!work.source || !policy_.mtime_precision ||
      *policy_.mtime_precision <= std::chrono::nanoseconds(1)) {
    return policy_;
  }
  const Mirrored* known = index_.find(work.path);
  if (!known || known->mtime_ns == work.source->mtime_ns) return policy_;
  MirrorPolicy exact = policy_;
  exact.mtime_precision = std::chrono::nanoseconds(1);
  // A moved mtime outside the target's range must not compare equal to the end it was
  // clamped to: the content may have changed.
  exact.mtime_range.reset();
  return exact;
}

void MirrorRule::remember(const SourceEntry& source, const TargetState& target,
                          std::optional<bool> racy) {
  Mirrored& known = index_[source.path];
  const bool same_identity = known.device == source.device && known.inode == source.inode &&
                             known.size == source.size && known.mtime_ns == source.mtime_ns;
  known.racy = racy ? *racy : same_identity && known.racy;
  // A new copy read the file after every write reported so far.
  known.write_reported = !racy && known.racy && known.write_reported;
  known.device = source.device;
  known.inode = source.inode;
  known.size = source.size;
  known.mtime_ns = source.mtime_ns;
  known.set_target(target);
}

bool MirrorRule::listing_lacks_metadata(const Examination& work) const {
  const std::optional<TargetState>& listed = work.entry.known_target;
  if (!listed || !work.source) return false;
  if (listed->type != EntryType::File || work.source->type != EntryType::File) return false;
  if (listed->size != work.source->size) return false;  // a copy either way
  return !listed->mtime_ns || (policy_.preserve_mode && !listed->mode);
}

void MirrorRule::forget_target_hints_within(const std::string& path) {
  // A walk may have listed this place on the target before the move filled it: what it saw
  // there ("nothing") is stale now, and would repeat the copies the move made needless.
  const std::string prefix = path + "/";
  for (auto& [pending, entry] : dirty_.entries()) {
    if (!entry.target_known || !pending.starts_with(prefix)) continue;
    entry.target_known = false;
    entry.known_target.reset();
  }
}

void MirrorRule::forget_subtree(const std::string& path) {
  index_.erase_subtree(path);
}

void MirrorRule::rename_subtree(const std::string& from, const std::string& to) {
  index_.move_subtree(from, to);
  // The errors within the old place concern paths the source no longer has; a moved
  // directory is walked at its new place, which finds again what still fails there.
  standing_errors_.clear_within(from);
}

}  // namespace tetherd::daemon
