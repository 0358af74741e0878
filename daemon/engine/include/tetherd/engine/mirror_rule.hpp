#pragma once

// MirrorRule: one rule of the config, live. It owns the rule's watcher, its dirty map
// (at most one pending entry per path), its reconciliations, its actions in flight and
// its counters. Everything runs on the loop thread.
//
// Flow (docs/ARCHITECTURE.md): watcher changes mark paths dirty; after the rule's quiet period a
// dirty path is examined: the source is re-stat'ed, the target state is taken from the
// mirror index or a stat, plan_path() decides, and the actions run in order against the
// store. A directory that appears, a rescan and the initial sync walk the subtree with a
// Reconciler, whose differences become dirty entries too. Nothing is trusted that was not
// just seen: a delete happens only when the source was seen without the path at action
// time, never while the source root is gone, and never past the mass-delete guard.

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "tetherd/config/config.hpp"
#include "tetherd/core/change.hpp"
#include "tetherd/core/path_filter.hpp"
#include "tetherd/core/shared_trips.hpp"
#include "tetherd/core/store.hpp"
#include "tetherd/engine/busy_paths.hpp"
#include "tetherd/engine/dirty_queue.hpp"
#include "tetherd/engine/event.hpp"
#include "tetherd/engine/live_delete_guard.hpp"
#include "tetherd/engine/mirror_index.hpp"
#include "tetherd/engine/planner.hpp"
#include "tetherd/engine/reconciler.hpp"
#include "tetherd/engine/removed_identities.hpp"
#include "tetherd/engine/settle_barrier.hpp"
#include "tetherd/engine/source_hint_fences.hpp"
#include "tetherd/engine/source_tree.hpp"
#include "tetherd/engine/standing_errors.hpp"
#include "tetherd/watchers/watcher.hpp"

namespace tetherd::daemon {

struct RuleSettings {
  std::string name;
  std::string source;        ///< absolute source directory
  core::StorePtr target;     ///< scoped to the rule's target directory
  std::string target_label;  ///< "backup:photos" or "/srv/mirror", for messages
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  config::DeleteMode delete_mode = config::DeleteMode::Always;
  std::chrono::milliseconds delay{0};
  bool initial_sync = true;
  config::PreserveSet preserve{.mtime = true, .mode = true};
  config::SymlinkMode symlinks = config::SymlinkMode::Copy;
  int max_delete_percent = 100;
  std::size_t max_in_flight = 64;
  watchers::WatcherKind watcher = watchers::WatcherKind::inotify;
  std::chrono::milliseconds poll_interval{1000};
  /// When false (sync --once), no watcher is started: the rule reconciles and finishes.
  bool live = true;
  /// sync --dry-run: plan and log, change nothing.
  bool dry_run = false;
  /// Where the target listing cache is kept between runs (empty: no cache), and what it
  /// must have been saved for (rule, source, target: another context is ignored).
  std::string listing_cache_file;
  std::string listing_cache_context;
  /// false (--verify-target): the saved cache is consumed but not used; every target
  /// directory is listed, and a fresh cache saved.
  bool trust_listing_cache = true;
  /// Opens the target afresh (a store whose root directory was removed keeps the removed
  /// one open): called on the loop thread while the rule waits for its target root to come
  /// back; it must not block, and hands the store to its callback later on the loop thread.
  /// Empty: the rule looks at `target` itself again.
  std::function<void(core::Callback<core::StorePtr>)> reopen_target;
  /// Opens the source tree (at start on the loop, later on a worker while the rule waits
  /// for a vanished source root). Empty: the local file system (LocalSourceTree).
  SourceTreeOpener open_source;
  /// Makes the rule's watcher. Empty: watchers::make_watcher of `watcher` on the loop.
  std::function<std::unique_ptr<watchers::Watcher>(watchers::WatcherOptions)> make_watcher;
};

enum class RuleState { starting, initial_sync, watching, paused, stopping, stopped, finished };
std::string_view to_string(RuleState state) noexcept;

struct RuleCounters {
  std::uint64_t copies = 0;
  std::uint64_t bytes = 0;
  std::uint64_t moves = 0;
  std::uint64_t deletes = 0;
  std::uint64_t mkdirs = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t attrs = 0;
  std::uint64_t errors = 0;
  std::uint64_t retries = 0;
  std::uint64_t rescans = 0;
};

struct RuleStatus {
  std::string name;
  std::string source;
  std::string target;
  RuleState state = RuleState::starting;
  std::size_t queued = 0;
  std::size_t in_flight = 0;
  bool rescanning = false;
  RuleCounters counters;
  std::string last_error;
  std::string paused_reason;
  /// Paths whose last attempt failed and that have not been mirrored since.
  std::size_t failing_paths = 0;
};

class MirrorRule : public std::enable_shared_from_this<MirrorRule> {
 public:
  MirrorRule(uv_loop_t* loop, core::Executor& executor, EventSink& log, RuleSettings settings);
  ~MirrorRule();
  MirrorRule(const MirrorRule&) = delete;
  MirrorRule& operator=(const MirrorRule&) = delete;

  /// Opens the source, starts watching (live rules), queues the initial reconciliation.
  /// A source that cannot be opened or watched is an error for the caller (exit code).
  core::Result<void> start();
  /// Stops watching, lets actions in flight finish (they are not cancelled: a write that
  /// completes is better than one thrown away), then calls `done`.
  void stop(std::function<void()> done);
  /// Called once a non-live rule has reconciled and drained (sync --once).
  void on_finished(std::function<void()> done) { finished_callback_ = std::move(done); }

  /// Exact barrier: completes once every change made in the source before the call has
  /// been mirrored (or has failed for good, which the outcome reports).
  void settle(std::function<void(SettleOutcome)> done);

  RuleStatus status() const;
  const RuleSettings& settings() const noexcept { return settings_; }
  /// Whether reconciliation or actions have failed for good since start.
  /// How the run went as a whole (sync --once): failed unless every action succeeded and
  /// nothing stands unmirrored (a type change the delete mode kept back included).
  SettleOutcome run_outcome() const { return judge_settle(0); }

  /// Test and driver hook: feed changes as a watcher would.
  void handle_changes(std::vector<core::Change>&& batch);

  /// Runs the source opener of the settings (or LocalSourceTree::open). Blocks.
  static core::Result<std::shared_ptr<SourceTree>> open_source(const RuleSettings& settings);

 private:
  /// Time is the executor's (Executor::now): a simulation runs the rule on a clock of its own.
  using Clock = std::chrono::steady_clock;
  using Seq = std::uint64_t;

  using Origin = ChangeOrigin;
  using Dirty = DirtyEntry;

  /// Work in flight on a path (the key of in_flight_).
  struct InFlight {
    Seq seq = 0;
    std::optional<std::string> moved_from;  ///< a rename's old path, busy too
  };

  core::Result<void> begin(Origin scan_origin);

  // Scheduling.
  void mark_dirty(const std::string& path, Seq seq, Origin origin, Clock::time_point due,
                  const std::function<void(Dirty&)>& update);
  Seq next_seq() { return next_seq_++; }
  void schedule_pump();
  void pump();
  /// The busy path that `path` (or `moved_from`) is, contains or lies within, if any: the
  /// path waits until that one is released.
  const std::string* blocker(const std::string& path,
                             const std::optional<std::string>& moved_from) const;
  void start_examine(std::string path, Dirty entry);
  void finish_work(const std::string& path, Seq seq);
  void retry_later(const std::string& path, Dirty entry, const core::StoreError& error);
  /// The pause the server asked for with `error` (bounded), or 0.
  static std::chrono::milliseconds server_pause(const core::StoreError& error) noexcept;
  /// Gives a pending entry a rename's old path, unless it holds another (a later rename
  /// onto the path): then `displaced` gets it, for the caller to look at again.
  static void keep_old_path(Dirty& pending, const std::optional<std::string>& old_path,
                            std::optional<std::string>& displaced);
  void collapse_to_rescan();
  /// A directory was renamed from `from` to `to` in the source: its pending entries follow.
  void move_pending_subtree(const std::string& from, const std::string& to, Clock::time_point due);

  // Examining one path.
  struct Examination;
  void examine_with_source(std::shared_ptr<Examination> work);
  void examine_with_target(std::shared_ptr<Examination> work);
  /// Whether the plan cannot depend on the target's state (a plain write): no target stat.
  bool target_stat_needless(const Examination& work) const;
  void try_move(std::shared_ptr<Examination> work);
  /// A new entry that is the same inode as one removed a moment ago whose old copy is
  /// still on the target: takes the old path as the rename it most likely was.
  bool adopt_unpaired_rename(Examination& work);
  /// Whether a new arrival should wait for the watcher's unpaired renames to be reported
  /// (at most once per entry, about the watcher's rename timeout).
  bool wait_for_unpaired_renames(Examination& work) const;
  void run_actions(std::shared_ptr<Examination> work);
  void run_next_action(std::shared_ptr<Examination> work);
  void action_failed(std::shared_ptr<Examination> work, const core::StoreError& error);
  /// When the nearest ancestor of `path` with pending work is due, if one has any.
  std::optional<Clock::time_point> pending_ancestor_due(std::string_view path) const;
  void complete_examination(std::shared_ptr<Examination> work);
  /// Ends an examination that did not complete: looks again at `again` when given (with
  /// the same hints), else hands a pending rename's old path on.
  void end_examination(const std::shared_ptr<Examination>& work,
                       std::optional<Clock::time_point> again);

  // Reconciliation.
  void start_rescan(std::string subtree, Seq seq, Origin origin);
  void rescan_finished(Seq seq, Origin origin, core::Result<ReconcileSummary> outcome,
                       std::uint64_t errors_mark);
  void maybe_start_queued_rescan();

  // Watcher, pausing, settle.
  void on_watcher_error(const watchers::WatcherError& error);
  /// Why a rule is paused: what brings it back.
  enum class PauseCause { none, source_root_gone, target_root_gone, mass_delete_guard };
  PauseCause pause_cause_ = PauseCause::none;
  void pause(PauseCause cause, std::string reason, std::string event = "paused");
  void root_gone(const std::string& reason);
  void check_root_back();
  /// The target's root directory is gone: pause, and look for it every few seconds.
  void target_root_gone();
  void check_target_back();
  void drop_pending_work();
  void check_settled();
  bool deletes_allowed(Origin origin) const noexcept;
  /// Retryable errors, and target conditions an administrator fixes (permissions, a
  /// read-only or full file system): retried with backoff until they go away.
  static bool worth_retrying(const core::StoreError& error) noexcept;
  bool is_hidden(std::string_view path) const noexcept;
  void note_error(const core::StoreError& error, std::string_view path, std::string_view event);

  /// Paths that could not be mirrored and have not been since: settle and status report
  /// them until a later look succeeds.
  StandingErrors standing_errors_;
  /// A look at `path` succeeded: its error stands no more (an unreadable directory's
  /// subtree is walked again).
  void clear_standing_error(const std::string& path, bool live, bool is_directory);
  void maybe_finished();

  uv_loop_t* loop_;
  core::Executor& executor_;
  EventSink& log_;
  RuleSettings settings_;
  /// Shared with the watcher and the walks: their jobs in flight may outlive the rule.
  std::shared_ptr<const core::PathFilter> filter_;
  MirrorPolicy policy_;
  std::shared_ptr<SourceTree> source_;
  /// Source stats of the paths examined in one loop turn share worker trips (a burst of
  /// new files would otherwise cost a trip, a wake-up and a completion each).
  struct StatScratch {};
  std::shared_ptr<core::SharedTrips<StatScratch>> stat_trips_;
  std::unique_ptr<watchers::Watcher> watcher_;

  RuleState state_ = RuleState::starting;
  std::string paused_reason_;
  std::string last_error_;
  RuleCounters counters_;

  Seq next_seq_ = 1;
  /// Pending work, at most one entry per path, and the order it is taken in.
  DirtyQueue dirty_;
  /// By path: in-flight paths never overlap. Unordered: looked up by path; the one walk (a
  /// directory renamed while its files are in flight) needs no order.
  std::unordered_map<std::string, InFlight> in_flight_;
  /// The paths in flight and their renames' old paths: what blocker() consults.
  BusyPaths busy_;
  void occupy(const std::string& path, const InFlight& work);
  void release(const std::string& path, const InFlight& work);
  std::multiset<Seq> outstanding_;  ///< seqs of dirty, in-flight and rescanning work
  std::optional<core::Executor::TimerId> pump_timer_;
  Clock::time_point pump_timer_due_{};
  bool pump_posted_ = false;

  std::shared_ptr<Reconciler> reconciler_;
  Seq reconciler_seq_ = 0;
  Origin reconciler_origin_ = Origin::live;
  std::map<std::string, std::pair<Seq, Origin>> queued_rescans_;

  /// Last mirrored state per path: source identity and what the target then had.
  MirrorIndex index_;
  /// Mirrored entries the watcher said were removed, by identity, until nothing is
  /// pending: an unpaired rename is still a move (adopt_unpaired_rename).
  RemovedIdentities removed_identities_;
  /// `racy`: whether the copy that made the target so may have missed a write (nullopt:
  /// kept while the source's identity is the recorded one, else false).
  void remember(const SourceEntry& source, const TargetState& target,
                std::optional<bool> racy = std::nullopt);
  /// The policy an examination plans with: policy_, comparing mtimes to the nanosecond
  /// when the target keeps coarse ones and the source's moved since the index recorded it.
  MirrorPolicy policy_for(const Examination& work) const;

  /// The target listing cache (TargetListingCache): the one the last run saved, consumed by
  /// the initial walk, and the one this run builds and saves when it stops.
  std::shared_ptr<TargetListingCache> previous_listings_;
  std::shared_ptr<TargetListingCache> fresh_listings_;
  bool listings_used_ = false;  ///< the initial walk has been given the caches
  std::size_t listings_loaded_ = 0;
  /// The initial walk confirmed every loaded record and listed nothing: unless an action
  /// invalidated one since, the saved file is still right as it is.
  bool listings_unchanged_ = false;
  /// Loads the saved cache on a worker; walks wait for it (listings_loading_).
  void load_listing_cache();
  /// Removes the settle cookies dead processes left in the source root.
  void remove_stale_cookies();
  void listings_loaded(core::Result<TargetListingCache> loaded);
  bool listings_loading_ = false;
  /// Saves the cache this run built on a worker, then calls `then` on the loop.
  void save_listing_cache(std::function<void()> then);
  /// An action is about to change the target at `path`: the records it may falsify go.
  void touching_target(const std::string& path);
  /// ... and again once it has ended, whatever its outcome: a listing made meanwhile may
  /// predate its effect.
  void touched_target(const std::string& path);
  void forget_subtree(const std::string& path);
  /// A directory was moved to `path` on the target: pending entries inside it forget what
  /// a listing said the target held there.
  /// Whether the listing `work` carries for its target is a file of the source's size
  /// whose mtime (or mode, when preserved) the listing did not give: then only a stat
  /// can tell whether it is up to date.
  bool listing_lacks_metadata(const Examination& work) const;
  void forget_target_hints_within(const std::string& path);
  /// Renames, removals and rescans reported, and paths found gone: what a walk listed
  /// before one of them, at or below its path, is no longer taken as a hint.
  SourceHintFences source_fences_;

  /// The mass-delete guard for live removals (LiveDeleteGuard): false when the removal of
  /// `path` (and of everything mirrored within it, for a tree) would cross it; the rule is
  /// paused then. Scan batches are guarded as a whole in rescan_finished.
  bool live_removal_allowed(const std::string& path, bool tree);
  LiveDeleteGuard live_delete_guard_;
  void rename_subtree(const std::string& from, const std::string& to);

  SettleBarrier settle_barrier_;
  /// A settle call's outcome: failed actions since the call, or errors still standing.
  SettleOutcome judge_settle(std::uint64_t errors_before) const;

  std::optional<core::Executor::TimerId> root_check_timer_;
  std::function<void()> stop_callback_;
  std::function<void()> finished_callback_;
  bool initial_scan_done_ = false;
  struct InitialSyncProgress {
    Seq seq = 0;
    std::uint64_t source_entries = 0;
    std::uint64_t target_entries = 0;
    std::uint64_t differences = 0;
    std::uint64_t deletes = 0;
    std::uint64_t target_dirs_listed = 0;
    std::uint64_t target_dirs_confirmed = 0;
  };
  std::optional<InitialSyncProgress> initial_sync_;  ///< walked, actions still running
  Clock::time_point started_at_{};
  void check_initial_sync_end();
  /// While the initial sync runs: a progress event every few seconds (large trees).
  void schedule_progress();
  std::optional<core::Executor::TimerId> progress_timer_;
};

}  // namespace tetherd::daemon
