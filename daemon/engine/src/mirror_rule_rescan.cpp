// MirrorRule: reconciliation of a subtree (initial sync, overflow, directories that
// appear, resumed rules), one walk at a time per rule, with the mass-delete guard.

#include <algorithm>
#include <chrono>

#include "tetherd/engine/mirror_rule.hpp"
#include "tetherd/engine/relative_path.hpp"

namespace tetherd::daemon {

namespace {

constexpr std::size_t kPauseWalkAt = 4096;  // dirty entries: back-pressure on the walk

}  // namespace

void MirrorRule::start_rescan(std::string subtree, Seq seq, Origin origin) {
  if (state_ == RuleState::stopping || state_ == RuleState::stopped) return;
  // A queued walk of an ancestor covers this one. (A running walk does not: it may have
  // passed the place already.)
  for (const auto& [queued, info] : queued_rescans_) {
    if (is_within(subtree, queued)) {
      auto& existing = queued_rescans_[queued];
      if (seq < existing.first) {
        outstanding_.erase(outstanding_.find(existing.first));
        existing.first = seq;
        outstanding_.insert(seq);
      }
      if (origin == Origin::startup_scan) existing.second = origin;
      // Nothing may be walking now (this call is a failed walk's retry, say): the queued
      // walk must not wait for a start that nothing else will trigger.
      maybe_start_queued_rescan();
      return;
    }
  }
  // This one covers queued descendants.
  Seq oldest = seq;
  for (auto it = queued_rescans_.begin(); it != queued_rescans_.end();) {
    if (is_within(it->first, subtree)) {
      oldest = std::min(oldest, it->second.first);
      outstanding_.erase(outstanding_.find(it->second.first));
      it = queued_rescans_.erase(it);
    } else {
      ++it;
    }
  }
  queued_rescans_[subtree] = {oldest, origin};
  outstanding_.insert(oldest);
  maybe_start_queued_rescan();
}

void MirrorRule::maybe_start_queued_rescan() {
  if (reconciler_ || queued_rescans_.empty() || listings_loading_ || state_ == RuleState::paused ||
      state_ == RuleState::stopping || state_ == RuleState::stopped) {
    return;
  }
  auto first = queued_rescans_.begin();
  const std::string subtree = first->first;
  const Seq seq = first->second.first;
  const Origin origin = first->second.second;
  queued_rescans_.erase(first);
  reconciler_seq_ = seq;
  reconciler_origin_ = origin;

  if (!subtree.empty()) {
    // The subtree's own directory is examined like any path (created first if missing).
    mark_dirty(subtree, seq, origin, executor_.now(), [](Dirty&) {});
  }
  // Work in flight inside the subtree acts on a look taken before the events this walk
  // stands for, and may finish after the walk has listed its place (a move landing on a
  // path the walk saw empty on both sides, its source removed since): each such path is
  // looked at again once its work is done.
  std::vector<std::string> in_flight_here;
  for (const auto& [busy_path, work] : in_flight_) {
    if (is_within(busy_path, subtree)) in_flight_here.push_back(busy_path);
    if (work.moved_from && is_within(*work.moved_from, subtree)) {
      in_flight_here.push_back(*work.moved_from);
    }
  }
  for (const auto& path : in_flight_here) {
    mark_dirty(path, seq, origin, executor_.now(), [](Dirty&) {});
  }
  // What an earlier walk saw inside the subtree is as old as the events this one stands
  // for: pending entries look again for themselves.
  source_fences_.raise(subtree);

  ReconcilerCallbacks callbacks;
  auto weak = weak_from_this();
  callbacks.on_difference = [weak, seq, origin, stamp = source_fences_.current()](
                                const SourceEntry& source, std::optional<TargetState> target,
                                bool target_listed) {
    auto self = weak.lock();
    if (!self) return false;
    // The listing may predate an action on the path: one in flight now, or one that has
    // completed since (a live event raced the walk of a new directory). Its hints would
    // then repeat that action (a second copy of the same file), so the examination looks
    // at both sides afresh instead. The mirror index does not say when its entry was
    // made, so any entry counts: a path it knows costs a stat of each side, never a copy
    // it does not need. The source hint also needs no change pending on the path: the
    // listing may predate that change.
    const bool acted_on =
        self->in_flight_.count(source.path) > 0 || self->index_.contains(source.path);
    const bool pending = self->dirty_.contains(source.path);
    self->mark_dirty(source.path, seq, origin, self->executor_.now(), [&](Dirty& entry) {
      if (acted_on) return;
      // A cache record is not a fresh look: the examination stats the target.
      entry.target_known = target_listed;
      if (target_listed) entry.known_target = std::move(target);
      // Taken only while no rename or removal reported since the walk began covers the
      // path (examine_with_source checks again when it uses it).
      if (!pending && self->source_fences_.still_valid(source.path, stamp)) {
        entry.known_source = source;
        entry.known_source_stamp = stamp;
      }
    });
    return self->dirty_.size() < kPauseWalkAt;
  };
  callbacks.on_unchanged = [weak, seq, origin](const SourceEntry& source,
                                               const TargetState& target) {
    auto self = weak.lock();
    if (!self) return;
    if (source.type == core::EntryType::File) {
      // Size and mtime agree, but the copy there was made from another file (a same-size
      // one renamed over it since, times kept or within one timestamp tick): examined as
      // written to (run_actions copies it). A racy copy is not taken again here: a walk
      // of a directory that just arrived would copy again every file just copied.
      const Mirrored* known = self->index_.find(source.path);
      if (known && (known->device != source.device || known->inode != source.inode)) {
        self->mark_dirty(source.path, seq, origin, self->executor_.now(),
                         [](Dirty& entry) { entry.content_changed = true; });
        return;
      }
      // The walk compared mtimes at the target's precision (whole seconds over SFTP): a
      // source whose exact mtime moved since its copy may hold an edit made within that
      // second. The examination compares exactly (policy_for); recording the source as
      // mirrored here would hide the edit from it.
      const auto precision = self->policy_.mtime_precision;
      if (known && known->mtime_ns != source.mtime_ns && precision &&
          *precision > std::chrono::nanoseconds(1)) {
        self->mark_dirty(source.path, seq, origin, self->executor_.now(), [](Dirty&) {});
        return;
      }
    }
    self->remember(source, target);
  };
  callbacks.on_finished = [weak, seq, origin, errors_mark = standing_errors_.mark()](
                              core::Result<ReconcileSummary> outcome) {
    if (auto self = weak.lock()) {
      self->rescan_finished(seq, origin, std::move(outcome), errors_mark);
    }
  };
  // The listing cache serves the initial walk of the whole rule; later walks list for real
  // (the records they would use are the ones this run made, and a walk is a look again).
  std::optional<TargetListingCaches> caches;
  if (fresh_listings_ && !listings_used_ && origin == Origin::startup_scan && subtree.empty()) {
    listings_used_ = true;
    caches = TargetListingCaches{previous_listings_, fresh_listings_};
  }
  reconciler_ = std::make_shared<Reconciler>(executor_, source_, settings_.target, filter_, policy_,
                                             subtree, std::move(callbacks), std::move(caches));
  reconciler_->start();
}

void MirrorRule::rescan_finished(Seq seq, Origin origin, core::Result<ReconcileSummary> outcome,
                                 std::uint64_t errors_mark) {
  const std::string subtree = reconciler_ ? reconciler_->subtree() : std::string();
  reconciler_.reset();
  auto release = [this, seq] {
    auto found = outstanding_.find(seq);
    if (found != outstanding_.end()) outstanding_.erase(found);
  };

  if (!outcome) {
    const core::StoreError& error = outcome.error();
    if (error.code == core::Errc::Cancelled) {
      release();
      maybe_finished();
      return;
    }
    if (error.side == core::ErrorSide::source && !subtree.empty() &&
        (error.code == core::Errc::NotFound || error.code == core::Errc::NotADirectory)) {
      // The directory went away (or changed type) meanwhile: examining it is enough.
      release();
      mark_dirty(subtree, seq, origin, executor_.now(), [](Dirty&) {});
      maybe_start_queued_rescan();
      return;
    }
    if (worth_retrying(error)) {
      // The target is unreachable (or refuses, until someone fixes it): walk again later,
      // for as long as it takes. status shows why meanwhile.
      counters_.retries++;
      last_error_ = error.message();
      const auto delay =
          std::max<std::chrono::milliseconds>(std::chrono::seconds(2), server_pause(error));
      log_.emit(Event(EventLevel::warn, "retry")
                    .rule(settings_.name)
                    .store(settings_.target->name())
                    .path(subtree)
                    .text("action", "rescan")
                    .number("delay_ms", delay.count())
                    .error(error));
      auto weak = weak_from_this();
      executor_.start_timer(delay, [weak, subtree, seq, origin] {
        auto self = weak.lock();
        if (!self) return;
        auto found = self->outstanding_.find(seq);
        if (found != self->outstanding_.end()) self->outstanding_.erase(found);
        self->start_rescan(subtree, seq, origin);
      });
      return;  // the seq stays outstanding until the walk succeeds
    }
    note_error(error, subtree, "rescan");
    if (error.side == core::ErrorSide::source) {
      standing_errors_.stand(subtree, StandingErrors::Kind::unreadable_directory, error.message());
    }
    release();
    if (origin == Origin::startup_scan && subtree.empty()) {
      initial_scan_done_ = true;
      if (state_ == RuleState::initial_sync) state_ = RuleState::watching;
      log_.emit(Event(EventLevel::error, "initial_sync_end")
                    .rule(settings_.name)
                    .result("error")
                    .error(error));
    }
    maybe_start_queued_rescan();
    check_settled();
    maybe_finished();
    return;
  }

  ReconcileSummary& summary = *outcome;
  // What failed inside the walked subtree before is looked at again by this walk: it
  // stands only if it failed again (below, or when its difference is examined; that may
  // have happened already, while the walk went on: the mark keeps those).
  if (!standing_errors_.empty()) standing_errors_.clear_within(subtree, errors_mark);
  for (auto& [dir, error] : summary.unreadable) {
    counters_.errors++;
    last_error_ = error.message();
    standing_errors_.stand(dir, StandingErrors::Kind::unreadable_directory, error.message());
    log_.emit(Event(EventLevel::error, "error")
                  .rule(settings_.name)
                  .path(dir)
                  .text("action", "list")
                  .result("error")
                  .message("this source directory cannot be read: its subtree is not mirrored "
                           "(and nothing in its copy on the target is deleted) until it can be")
                  .error(error));
  }
  std::uint64_t planned_deletes = 0;
  if (!summary.deletions.empty() && deletes_allowed(origin)) {
    const std::uint64_t total = std::max<std::uint64_t>(1, summary.target_entries);
    const double percent =
        100.0 * static_cast<double>(summary.deleted_entries) / static_cast<double>(total);
    if (settings_.max_delete_percent < 100 &&
        percent > static_cast<double>(settings_.max_delete_percent)) {
      release();
      char share[16];
      std::snprintf(share, sizeof share, "%.0f%%", percent);
      pause(PauseCause::mass_delete_guard,
            "mass-delete guard: this batch would delete " +
                std::to_string(summary.deleted_entries) + " of " +
                std::to_string(summary.target_entries) + " entries on the target (" + share +
                "), more than max_delete_percent=" + std::to_string(settings_.max_delete_percent) +
                "; nothing was deleted. Check the source, then raise max_delete_percent or "
                "restart the rule to proceed",
            "paused");
      return;
    }
    for (auto& deletion : summary.deletions) {
      ++planned_deletes;
      std::optional<TargetState>& target = deletion.second;
      mark_dirty(deletion.first, seq, origin, executor_.now(), [&target](Dirty& entry) {
        if (!target) return;  // from a cache record: the examination stats the target
        entry.target_known = true;
        entry.known_target = std::move(*target);
      });
    }
  }

  if (origin == Origin::startup_scan && subtree.empty() && !initial_scan_done_) {
    listings_unchanged_ = listings_loaded_ > 0 && summary.target_dirs_listed == 0 &&
                          summary.target_dirs_confirmed == listings_loaded_;
    // initial_sync_end is logged once every action this walk planned has completed.
    initial_scan_done_ = true;
    initial_sync_ = InitialSyncProgress{seq,
                                        summary.source_entries,
                                        summary.target_entries,
                                        summary.differences,
                                        planned_deletes,
                                        summary.target_dirs_listed,
                                        summary.target_dirs_confirmed};
  }
  release();
  maybe_start_queued_rescan();
  check_settled();
  maybe_finished();
}

}  // namespace tetherd::daemon
