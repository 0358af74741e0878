// MirrorRule: lifecycle, watcher changes, scheduling of dirty paths, pausing, settle and
// status. Examining a path and running its actions: mirror_rule_actions.cpp.
// Reconciliation: mirror_rule_rescan.cpp.

#include "tetherd/engine/mirror_rule.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "tetherd/engine/local_source_tree.hpp"
#include "tetherd/engine/relative_path.hpp"
#include "tetherd/engine/settle_cookie.hpp"

namespace tetherd::daemon {

namespace {

/// The sliding window of the live mass-delete guard (LiveDeleteGuard).
constexpr std::chrono::seconds kLiveDeleteWindow{60};
/// Dirty entries beyond this collapse into one rescan of the root (memory bound).
constexpr std::size_t kMaxDirty = 200'000;
/// Longer than the watcher's rename-pairing timeout (20 ms): see settle.
constexpr std::chrono::milliseconds kRenamePairingAllowance{50};
/// The least time a live removal waits before it is mirrored (see handle_changes).
constexpr std::chrono::milliseconds kDeleteHold{250};
/// The longest a file being written waits for its writer to close it before it is copied
/// as it is (a consistent state, checked like any copy) and, if written on, again later.
constexpr std::chrono::seconds kMaxWaitForClose{30};
/// A file still open but not written for this long is copied as it is.
constexpr std::chrono::seconds kQuietWhileOpen{1};
/// How long a file just created waits for its first write or its close.
constexpr std::chrono::milliseconds kWaitAfterCreate{50};
/// Source stats issued in one loop turn: at most this many per worker trip, in at least
/// this many trips (the pool has at least 4 threads), see SharedTrips.
constexpr std::size_t kStatsPerTrip = 16;
constexpr std::size_t kMinStatTrips = 4;

MirrorPolicy make_policy(const RuleSettings& settings) {
  const core::CapabilitySet& caps = settings.target->capabilities();
  MirrorPolicy policy;
  policy.preserve_mtime = settings.preserve.mtime && caps.has(core::Capability::SetMtime);
  policy.preserve_mode = settings.preserve.mode && caps.has(core::Capability::SetMode);
  policy.symlinks = settings.symlinks;
  policy.mtime_precision = caps.mtime_precision;
  policy.mtime_range = caps.mtime_range;
  policy.target_has_symlinks = caps.has(core::Capability::Symlink);
  policy.target_keeps_mode = caps.has(core::Capability::SetMode);
  return policy;
}

}  // namespace

std::string_view to_string(RuleState state) noexcept {
  switch (state) {
    case RuleState::starting:
      return "starting";
    case RuleState::initial_sync:
      return "initial-sync";
    case RuleState::watching:
      return "watching";
    case RuleState::paused:
      return "paused";
    case RuleState::stopping:
      return "stopping";
    case RuleState::stopped:
      return "stopped";
    case RuleState::finished:
      return "finished";
  }
  return "unknown";
}

MirrorRule::MirrorRule(uv_loop_t* loop, core::Executor& executor, EventSink& log,
                       RuleSettings settings)
    : loop_(loop),
      executor_(executor),
      log_(log),
      settings_(std::move(settings)),
      filter_(std::make_shared<const core::PathFilter>(settings_.include, settings_.exclude)),
      policy_(make_policy(settings_)),
      stat_trips_(std::make_shared<core::SharedTrips<StatScratch>>(executor_, kStatsPerTrip,
                                                                   kMinStatTrips)),
      live_delete_guard_(settings_.max_delete_percent, kLiveDeleteWindow) {}

MirrorRule::~MirrorRule() {
  if (watcher_) watcher_->stop();
  if (progress_timer_) executor_.cancel_timer(*progress_timer_);
  if (pump_timer_) executor_.cancel_timer(*pump_timer_);
  if (root_check_timer_) executor_.cancel_timer(*root_check_timer_);
}

bool MirrorRule::deletes_allowed(Origin origin) const noexcept {
  using config::DeleteMode;
  switch (origin) {
    case Origin::startup_scan:
      return settings_.delete_mode == DeleteMode::Always ||
             settings_.delete_mode == DeleteMode::Startup;
    case Origin::live:
    case Origin::running_scan:
      return settings_.delete_mode == DeleteMode::Always ||
             settings_.delete_mode == DeleteMode::Running;
    case Origin::resume_scan:
      return false;  // the root came back: it may be an empty mount point
  }
  return false;
}

bool MirrorRule::worth_retrying(const core::StoreError& error) noexcept {
  if (error.retryable) return true;
  if (error.side == core::ErrorSide::source)
    return false;  // the source is examined again on its next change
  return error.code == core::Errc::PermissionDenied || error.code == core::Errc::ReadOnly ||
         error.code == core::Errc::NoSpace;
}

bool MirrorRule::is_hidden(std::string_view path) const noexcept {
  return is_settle_cookie(path);
}

core::Result<std::shared_ptr<SourceTree>> MirrorRule::open_source(const RuleSettings& settings) {
  if (settings.open_source) return settings.open_source(settings.source);
  auto local = LocalSourceTree::open(settings.source);
  if (!local) return std::move(local).error();
  return std::shared_ptr<SourceTree>(std::move(*local));
}

core::Result<void> MirrorRule::start() {
  auto source = open_source(settings_);
  if (!source) return std::move(source).error();
  source_ = std::move(*source);
  started_at_ = executor_.now();
  if (settings_.live && !settings_.dry_run) remove_stale_cookies();
  load_listing_cache();
  return begin(Origin::startup_scan);
}

void MirrorRule::remove_stale_cookies() {
  // A daemon killed during a settle leaves its cookie in the source root for good; the
  // root is listed on a worker (it may be large) and nobody waits for the outcome.
  executor_.run_blocking(
      [source = source_] {
        auto root = source->list("");
        if (!root) return;
        for (const SourceEntry& entry : *root) {
          if (is_stale_settle_cookie(entry.path)) source->remove_marker(entry.path);
        }
      },
      [] {});
}

void MirrorRule::load_listing_cache() {
  if (settings_.listing_cache_file.empty() || settings_.dry_run) return;
  fresh_listings_ = std::make_shared<TargetListingCache>();
  const core::CapabilitySet& target = settings_.target->capabilities();
  fresh_listings_->set_target_clock(target.mtime_precision, target.mtime_clock_skew);
  // Read on a worker (a large cache is megabytes); the initial walk waits for it.
  listings_loading_ = true;
  auto loaded = std::make_shared<std::optional<core::Result<TargetListingCache>>>();
  auto weak = weak_from_this();
  executor_.run_blocking(
      [loaded, file = settings_.listing_cache_file, context = settings_.listing_cache_context] {
        loaded->emplace(TargetListingCache::load(file, context));
      },
      [weak, loaded] {
        auto self = weak.lock();
        if (!self) return;
        self->listings_loading_ = false;
        if (self->state_ == RuleState::stopping || self->state_ == RuleState::stopped) return;
        if (*loaded) self->listings_loaded(std::move(**loaded));
        self->maybe_start_queued_rescan();
      });
}

void MirrorRule::listings_loaded(core::Result<TargetListingCache> loaded) {
  if (!loaded) {
    log_.emit(Event(EventLevel::warn, "error")
                  .rule(settings_.name)
                  .message("the target listing cache cannot be used; the target is listed in full")
                  .error(loaded.error()));
    return;
  }
  if (!settings_.trust_listing_cache) return;
  listings_loaded_ = loaded->directories();
  if (!loaded->empty()) {
    previous_listings_ = std::make_shared<TargetListingCache>(std::move(*loaded));
  }
}

void MirrorRule::save_listing_cache(std::function<void()> then) {
  if (!fresh_listings_ || fresh_listings_->empty()) {
    fresh_listings_.reset();
    previous_listings_.reset();
    if (then) executor_.post(std::move(then));
    return;
  }
  auto listings = std::move(fresh_listings_);
  previous_listings_.reset();
  const bool unchanged = listings_unchanged_ && listings->invalidations() == 0 &&
                         listings->directories() == listings_loaded_;
  // Written on a worker (megabytes, and a rename made durable); the rule is done once it is.
  auto saved = std::make_shared<core::Result<void>>(core::success());
  auto self = shared_from_this();
  executor_.run_blocking(
      [saved, listings, unchanged, file = settings_.listing_cache_file,
       context = settings_.listing_cache_context] {
        *saved = unchanged ? TargetListingCache::restore(file) : listings->save(file, context);
      },
      [self, saved, then = std::move(then)] {
        if (!*saved) {
          self->log_.emit(Event(EventLevel::warn, "error")
                              .rule(self->settings_.name)
                              .message("the target listing cache was not saved; the next start "
                                       "lists the target in full")
                              .error(saved->error()));
        }
        if (then) then();
      });
}

void MirrorRule::touched_target(const std::string& path) {
  // A listing taken while the action was in flight may have missed its effect; one that
  // changes no name (attributes) leaves no mtime behind to tell.
  touching_target(path);
}

void MirrorRule::touching_target(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string parent_dir = slash == std::string::npos ? std::string() : path.substr(0, slash);
  for (auto* cache : {previous_listings_.get(), fresh_listings_.get()}) {
    if (!cache) continue;
    cache->invalidate_subtree(path);
    cache->invalidate(parent_dir);
  }
}

core::Result<void> MirrorRule::begin(Origin scan_origin) {
  if (settings_.live) {
    watchers::WatcherOptions options;
    options.root = settings_.source;
    auto weak = weak_from_this();
    // Shared: the poll watcher calls it on the thread pool, where a walk may outlive the
    // rule (a reload that removes it mid-walk).
    options.watch_directory = [filter = filter_](std::string_view dir) {
      return dir.empty() || filter->should_descend(dir);
    };
    options.on_changes = [weak](std::vector<core::Change>&& batch) {
      if (auto self = weak.lock()) self->handle_changes(std::move(batch));
    };
    options.on_error = [weak](const watchers::WatcherError& error) {
      if (auto self = weak.lock()) self->on_watcher_error(error);
    };
    options.poll_interval = settings_.poll_interval;
    watcher_ = settings_.make_watcher
                   ? settings_.make_watcher(std::move(options))
                   : watchers::make_watcher(settings_.watcher, loop_, std::move(options));
    if (auto failure = watcher_->start()) {
      core::StoreError error = core::StoreError::make(core::Errc::Unavailable, failure->message);
      error.store = "source";
      error.side = core::ErrorSide::source;
      error.native_code = failure->code.value();
      error.retryable = false;
      watcher_.reset();
      return error;
    }
  }

  if (scan_origin == Origin::resume_scan) {
    state_ = RuleState::watching;
    log_.emit(Event(EventLevel::info, "resumed")
                  .rule(settings_.name)
                  .message("source root is back; reconciling without deleting"));
    start_rescan("", next_seq(), Origin::resume_scan);
  } else if (settings_.initial_sync || !settings_.live) {
    state_ = RuleState::initial_sync;
    log_.emit(
        Event(EventLevel::info, "initial_sync_begin")
            .rule(settings_.name)
            .text("source", settings_.source)
            .text("target", settings_.target_label)
            .flag("durable", settings_.target->capabilities().has(core::Capability::Durable)));
    start_rescan("", next_seq(), Origin::startup_scan);
    schedule_progress();
  } else {
    state_ = RuleState::watching;
    initial_scan_done_ = true;
  }
  return core::success();
}

void MirrorRule::stop(std::function<void()> done) {
  if (state_ == RuleState::stopped) {
    executor_.post(std::move(done));
    return;
  }
  stop_callback_ = std::move(done);
  state_ = RuleState::stopping;
  if (watcher_) watcher_->stop();
  if (reconciler_) reconciler_->cancel();
  if (root_check_timer_) {
    executor_.cancel_timer(*root_check_timer_);
    root_check_timer_.reset();
  }
  if (progress_timer_) {
    executor_.cancel_timer(*progress_timer_);
    progress_timer_.reset();
  }
  // Pending (not started) work is dropped: the next start reconciles it.
  dirty_.clear();
  queued_rescans_.clear();
  settle_barrier_.answer_all(SettleOutcome{false, "rule '" + settings_.name + "' is stopping"});
  maybe_finished();
}

void MirrorRule::maybe_finished() {
  if (!in_flight_.empty() || reconciler_) return;
  if (state_ == RuleState::stopping) {
    state_ = RuleState::stopped;
    outstanding_.clear();
    save_listing_cache(std::move(stop_callback_));
    return;
  }
  if (!settings_.live && initial_scan_done_ && dirty_.empty() && queued_rescans_.empty() &&
      state_ != RuleState::finished && state_ != RuleState::paused) {
    state_ = RuleState::finished;
    save_listing_cache(std::move(finished_callback_));
  }
}

// ---- changes from the watcher ----------------------------------------------------------

void MirrorRule::handle_changes(std::vector<core::Change>&& batch) {
  if (state_ == RuleState::stopping || state_ == RuleState::stopped) return;
  const auto now = executor_.now();
  const auto due = now + settings_.delay;
  for (core::Change& change : batch) {
    using core::ChangeKind;
    if (change.kind == ChangeKind::root_gone) {
      root_gone(change.reason);
      return;
    }
    if (state_ == RuleState::paused) continue;  // resuming rescans everything
    if (is_settle_cookie(change.path) && change.kind == ChangeKind::created) {
      if (settle_barrier_.cookie_seen(change.path)) {
        // Every event before the cookie's creation has been delivered, except a rename
        // half the watcher still holds for pairing (it reports an unpaired one as a removal
        // after its rename timeout). Take the threshold once that time has passed.
        const std::string cookie = change.path;
        executor_.run_blocking([source = source_, cookie] { source->remove_marker(cookie); },
                               [] {});
        auto weak = weak_from_this();
        executor_.start_timer(kRenamePairingAllowance, [weak, cookie] {
          auto self = weak.lock();
          if (!self) return;
          self->settle_barrier_.cookie_delivered(cookie, self->next_seq_);
          self->check_settled();
        });
      }
      continue;
    }
    if (change.kind == ChangeKind::rescan) {
      counters_.rescans++;
      log_.emit(Event(EventLevel::warn, change.queue_overflow ? "overflow" : "rescan")
                    .rule(settings_.name)
                    .path(change.path)
                    .text("reason", change.reason));
      // It stands for lost events, renames and removals among them.
      source_fences_.raise(change.path);
      start_rescan(change.path, next_seq(), Origin::running_scan);
      continue;
    }
    if (change.kind == ChangeKind::moved || change.kind == ChangeKind::removed) {
      source_fences_.raise(change.path);
      if (change.kind == ChangeKind::moved) source_fences_.raise(change.to_path);
    }
    if (change.kind == ChangeKind::moved) {
      if (is_hidden(change.path) || is_hidden(change.to_path)) continue;
      const bool from_included = filter_->includes(change.path, change.is_dir);
      const bool to_wanted = filter_->includes(change.to_path, change.is_dir) ||
                             (change.is_dir && filter_->should_descend(change.to_path));
      // The directory itself first: its move on the target must come before the pending
      // work inside it, which is queued behind it and then finds its old copies moved along.
      if (to_wanted) {
        // A rename onto a path whose earlier rename is still pending (mv f b; mv a b)
        // displaces that one's old path: it is looked at again (most likely a removal).
        std::optional<std::string> displaced;
        // A write reported at the old path concerns the content that arrives here.
        const Dirty* at_old_path = dirty_.find(change.path);
        const bool written_before = at_old_path && at_old_path->content_changed;
        mark_dirty(change.to_path, next_seq(), Origin::live, due, [&](Dirty& entry) {
          if (entry.moved_from && *entry.moved_from != change.path) {
            displaced = std::move(entry.moved_from);
          }
          entry.moved_from.reset();
          if (from_included) entry.moved_from = change.path;
          entry.created_directory = change.is_dir;
          entry.content_changed = entry.content_changed || written_before;
        });
        if (displaced) mark_dirty(*displaced, next_seq(), Origin::live, due, [](Dirty&) {});
      }
      // Pending work inside a moved directory now concerns the new place, with everything
      // it stands for: a rename's old path above all (dropping it would leave the old copy
      // on the target for ever, and settle would not know).
      if (change.is_dir) move_pending_subtree(change.path, change.to_path, due);
      if (from_included && !to_wanted) {  // moved out of the tree: a removal
        mark_dirty(change.path, next_seq(), Origin::live, std::max(due, now + kDeleteHold),
                   [](Dirty&) {});
      }
      continue;
    }
    if (is_hidden(change.path) || change.path.empty()) {
      if (change.path.empty() && change.kind == ChangeKind::attrib) {
        mark_dirty(change.path, next_seq(), Origin::live, due, [](Dirty&) {});
      }
      continue;
    }
    const bool wanted = filter_->includes(change.path, change.is_dir) ||
                        (change.is_dir && filter_->should_descend(change.path));
    if (!wanted) continue;
    // A removal waits a little longer than other changes: `rm -rf ROOT` removes the
    // children first and the root last, and the root's removal (root_gone: pause, delete
    // nothing) must be seen before any of those deletions is mirrored.
    const auto when = change.kind == ChangeKind::removed ? std::max(due, now + kDeleteHold) : due;
    if (change.kind == ChangeKind::modified ||
        (change.kind == ChangeKind::created && change.still_open)) {
      // Being written: copied once the writer closes it, not at every write in between.
      if (change.kind == ChangeKind::modified) index_.note_write(change.path);
      mark_dirty(change.path, next_seq(), Origin::live, when, [&](Dirty& entry) {
        if (change.kind == ChangeKind::modified) entry.content_changed = true;
        if (!change.still_open) {
          entry.awaiting_close = false;
          entry.written = false;
        } else if (change.kind == ChangeKind::created) {
          if (!entry.awaiting_close) entry.close_deadline = now + kWaitAfterCreate;
          entry.awaiting_close = true;
        } else {
          if (!entry.awaiting_close || !entry.written) entry.writing_since = now;
          entry.awaiting_close = true;
          entry.written = true;
          // Until the close, or a pause in the writes (a truncate(2) by path, a writer that
          // keeps the file open but stopped writing), within the longest wait.
          entry.close_deadline =
              std::min(entry.writing_since + kMaxWaitForClose, now + kQuietWhileOpen);
        }
      });
      continue;
    }
    if (change.kind == ChangeKind::removed) {
      if (const Mirrored* known = index_.find(change.path)) {
        removed_identities_.note(known->device, known->inode, change.path);
      }
    }
    mark_dirty(change.path, next_seq(), Origin::live, when, [&](Dirty& entry) {
      if (change.kind == ChangeKind::created && change.is_dir) entry.created_directory = true;
    });
  }
  check_settled();
}

void MirrorRule::on_watcher_error(const watchers::WatcherError& error) {
  last_error_ = error.message;
  log_.emit(Event(EventLevel::error, "error")
                .rule(settings_.name)
                .path(error.path)
                .message(error.message));
}

void MirrorRule::move_pending_subtree(const std::string& from, const std::string& to,
                                      Clock::time_point due) {
  // Every key starting "from/" (a scan of all pending work: rare, and bounded by the limit
  // that collapses it into a rescan).
  std::vector<std::pair<std::string, Dirty>> moved = dirty_.extract_within(from);
  for (auto& item : moved)
    item.first = to + item.first.substr(from.size());
  for (auto& item : moved) {
    const std::string& path = item.first;
    Dirty& entry = item.second;  // a reference, not a binding: the lambda below captures it
    const Seq seq = entry.seq;
    outstanding_.erase(outstanding_.find(seq));
    // An old path inside the directory moved along with it on the target (the directory's
    // own move is examined first), so the move is looked for at its new place.
    if (entry.moved_from && is_within(*entry.moved_from, from)) {
      entry.moved_from = to + entry.moved_from->substr(from.size());
    }
    std::optional<std::string> displaced;
    mark_dirty(path, seq, entry.origin, due, [&entry, &displaced](Dirty& pending) {
      if (pending.moved_from && pending.moved_from != entry.moved_from) {
        displaced = std::move(pending.moved_from);
      }
      pending.moved_from = std::move(entry.moved_from);
      pending.created_directory = entry.created_directory;
      pending.awaiting_close = entry.awaiting_close;
      pending.written = entry.written;
      pending.close_deadline = entry.close_deadline;
      pending.writing_since = entry.writing_since;
      pending.attempts = entry.attempts;
      pending.awaited_renames = entry.awaited_renames;
      pending.content_changed = pending.content_changed || entry.content_changed;
    });
    if (displaced) mark_dirty(*displaced, next_seq(), Origin::live, due, [](Dirty&) {});
  }
  // Work in flight inside it completes at the old place: the new place is looked at again.
  for (const auto& [busy_path, work] : in_flight_) {
    if (is_within(busy_path, from) && busy_path != from) {
      mark_dirty(to + busy_path.substr(from.size()), next_seq(), Origin::live, due, [](Dirty&) {});
    }
  }
}

// ---- scheduling ------------------------------------------------------------------------

void MirrorRule::mark_dirty(const std::string& path, Seq seq, Origin origin, Clock::time_point due,
                            const std::function<void(Dirty&)>& update) {
  if (state_ == RuleState::stopping || state_ == RuleState::stopped) return;
  auto [entry, inserted] = dirty_.entry(path);
  if (inserted) {
    entry.seq = seq;
    outstanding_.insert(seq);
  } else if (seq < entry.seq) {
    outstanding_.erase(outstanding_.find(entry.seq));
    entry.seq = seq;
    outstanding_.insert(seq);
  }
  entry.origin = origin;
  entry.due = due;
  entry.target_known = false;  // only a fresh listing may say what the target has
  entry.known_target.reset();
  entry.known_source.reset();
  update(entry);
  // Nothing but the writer's close (or the longest wait) ends a wait for it.
  if (entry.awaiting_close) entry.due = std::max(entry.due, entry.close_deadline);
  dirty_.enqueue(path, entry.due, executor_.now());
  if (dirty_.size() > kMaxDirty) {
    collapse_to_rescan();
    return;
  }
  schedule_pump();
}

void MirrorRule::collapse_to_rescan() {
  // Too much pending work to keep per path: one walk of the whole tree replaces it.
  Seq oldest = std::numeric_limits<Seq>::max();
  for (const auto& [path, entry] : dirty_.entries()) {
    oldest = std::min(oldest, entry.seq);
    outstanding_.erase(outstanding_.find(entry.seq));
  }
  dirty_.clear();
  log_.emit(Event(EventLevel::warn, "rescan")
                .rule(settings_.name)
                .path("")
                .text("reason", "too many pending changes"));
  start_rescan("", oldest, Origin::running_scan);
}

void MirrorRule::schedule_pump() {
  if (dirty_.idle()) return;
  const auto now = executor_.now();
  const auto scheduled = dirty_.earliest_scheduled();
  const bool due_now = dirty_.has_ready() || *scheduled <= now;
  if (due_now) {
    if (!pump_posted_) {
      pump_posted_ = true;
      auto weak = weak_from_this();
      executor_.post([weak] {
        if (auto self = weak.lock()) self->pump();
      });
    }
    return;
  }
  const auto earliest = *scheduled;
  if (pump_timer_ && pump_timer_due_ <= earliest) return;
  if (pump_timer_) executor_.cancel_timer(*pump_timer_);
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(earliest - now);
  pump_timer_due_ = earliest;
  auto weak = weak_from_this();
  pump_timer_ = executor_.start_timer(wait, [weak] {
    if (auto self = weak.lock()) {
      self->pump_timer_.reset();
      self->pump();
    }
  });
}

const std::string* MirrorRule::blocker(const std::string& path,
                                       const std::optional<std::string>& moved_from) const {
  if (const std::string* busy = busy_.overlapping(path)) return busy;
  return moved_from ? busy_.overlapping(*moved_from) : nullptr;
}

void MirrorRule::occupy(const std::string& path, const InFlight& work) {
  busy_.occupy(path);
  if (work.moved_from) busy_.occupy(*work.moved_from);
}

void MirrorRule::release(const std::string& path, const InFlight& work) {
  // What waited for a freed path is ready again, ahead of what came later.
  auto wake = [this](const std::string& freed) { dirty_.wake(freed); };
  busy_.release(path, wake);
  if (work.moved_from) busy_.release(*work.moved_from, wake);
}

void MirrorRule::pump() {
  pump_posted_ = false;
  if (state_ == RuleState::paused || state_ == RuleState::stopping ||
      state_ == RuleState::stopped) {
    return;
  }
  const auto now = executor_.now();
  dirty_.promote_due(now);
  const auto blocked = [this](const std::string& path, const Dirty& entry) {
    return blocker(path, entry.moved_from);
  };
  while (in_flight_.size() < settings_.max_in_flight) {
    auto next = dirty_.take_ready(now, blocked);
    if (!next) break;
    start_examine(std::move(next->first), std::move(next->second));
  }
  dirty_.compact();
  if (reconciler_ && dirty_.size() < 1024) reconciler_->resume();
  if (dirty_.earliest_scheduled()) schedule_pump();
}

void MirrorRule::finish_work(const std::string& path, Seq seq) {
  if (auto it = in_flight_.find(path); it != in_flight_.end()) {
    release(it->first, it->second);
    in_flight_.erase(it);
  }
  auto found = outstanding_.find(seq);
  if (found != outstanding_.end()) outstanding_.erase(found);
  if (dirty_.empty() && in_flight_.empty()) removed_identities_.clear();
  check_settled();
  if (!dirty_.idle()) schedule_pump();
  if (reconciler_ && dirty_.size() < 1024) reconciler_->resume();
  maybe_start_queued_rescan();
  maybe_finished();
}

std::chrono::milliseconds MirrorRule::server_pause(const core::StoreError& error) noexcept {
  // A server that asks for a pause (HTTP Retry-After) gets it, up to a bound: a wrong or
  // hostile value must not stop the mirror for days.
  constexpr std::chrono::milliseconds kLongest = std::chrono::minutes(15);
  if (!error.retry_after) return std::chrono::milliseconds(0);
  return std::clamp(*error.retry_after, std::chrono::milliseconds(0), kLongest);
}

void MirrorRule::retry_later(const std::string& path, Dirty entry, const core::StoreError& error) {
  // A one-shot reconciliation (sync --once, cron) must end: it gives a path a few tries,
  // then reports the error and exits non-zero. A live rule retries for as long as it takes.
  constexpr unsigned kOnceAttempts = 4;
  if (!settings_.live && entry.attempts + 1 >= kOnceAttempts) {
    note_error(error, path, "retry");
    return;
  }
  counters_.retries++;
  entry.attempts++;
  // Exponential backoff from 100 ms to 60 s, with jitter so that paths do not retry in step.
  const unsigned exponent = std::min(entry.attempts, 10u);
  auto backoff = std::chrono::milliseconds(100) * (1u << exponent) / 2;
  backoff = std::min<std::chrono::milliseconds>(backoff, std::chrono::seconds(60));
  const auto jitter = std::chrono::milliseconds(
      static_cast<std::int64_t>((next_seq_ * 2654435761u) % (backoff.count() / 4 + 1)));
  const auto delay = std::max(backoff + jitter, server_pause(error));
  // A condition only an administrator can fix is an error even while it is retried.
  if (!error.retryable) last_error_ = error.message();
  log_.emit(Event(error.retryable ? EventLevel::warn : EventLevel::error, "retry")
                .rule(settings_.name)
                .store(settings_.target->name())
                .path(path)
                .number("attempt", entry.attempts)
                .number("delay_ms", delay.count())
                .error(error));
  const Seq seq = entry.seq;
  const auto due = executor_.now() + delay;
  std::optional<std::string> displaced;
  mark_dirty(path, seq, entry.origin, due, [&](Dirty& pending) {
    pending.attempts = std::max(pending.attempts, entry.attempts);
    keep_old_path(pending, entry.moved_from, displaced);
    pending.created_directory = pending.created_directory || entry.created_directory;
    pending.content_changed = pending.content_changed || entry.content_changed;
  });
  if (displaced) mark_dirty(*displaced, next_seq(), Origin::live, executor_.now(), [](Dirty&) {});
}

void MirrorRule::keep_old_path(Dirty& pending, const std::optional<std::string>& old_path,
                               std::optional<std::string>& displaced) {
  if (!old_path || pending.moved_from == old_path) return;
  if (!pending.moved_from) {
    pending.moved_from = old_path;
  } else {
    displaced = old_path;  // a later rename onto the path holds the slot
  }
}

void MirrorRule::clear_standing_error(const std::string& path, bool live, bool is_directory) {
  if (standing_errors_.clear(path, live) == StandingErrors::Cleared::unreadable_directory &&
      is_directory && filter_->should_descend(path)) {
    start_rescan(path, next_seq(), Origin::running_scan);
  }
}

void MirrorRule::note_error(const core::StoreError& error, std::string_view path,
                            std::string_view event) {
  standing_errors_.stand(path, StandingErrors::Kind::action, error.message());
  counters_.errors++;
  last_error_ = error.message();
  log_.emit(Event(EventLevel::error, "error")
                .rule(settings_.name)
                .store(settings_.target->name())
                .path(path)
                .text("action", event)
                .result("error")
                .error(error));
}

// ---- pausing ----------------------------------------------------------------------------

void MirrorRule::pause(PauseCause cause, std::string reason, std::string event) {
  if (state_ == RuleState::paused) return;
  state_ = RuleState::paused;
  pause_cause_ = cause;
  paused_reason_ = reason;
  last_error_ = reason;
  if (reconciler_) reconciler_->cancel();
  log_.emit(Event(EventLevel::error, event).rule(settings_.name).message(reason));
  settle_barrier_.answer_all(
      SettleOutcome{false, "rule '" + settings_.name + "' is paused: " + reason});
  maybe_finished();
}

void MirrorRule::drop_pending_work() {
  dirty_.clear();
  queued_rescans_.clear();
  outstanding_.clear();
}

void MirrorRule::root_gone(const std::string& reason) {
  if (watcher_) watcher_->stop();
  // Pending work is void: the source may be anywhere now. Nothing is deleted.
  drop_pending_work();
  pause(PauseCause::source_root_gone,
        "source root " + settings_.source + " is gone (" + reason +
            "); nothing is deleted on the target; waiting for it to come back",
        "paused");
  check_root_back();
}

void MirrorRule::target_root_gone() {
  if (state_ == RuleState::paused || state_ == RuleState::stopping ||
      state_ == RuleState::stopped) {
    return;
  }
  // Pending work waits for the target: the walk when it is back finds all of it. The
  // watcher keeps watching (the source is fine); its changes are covered by that walk.
  drop_pending_work();
  pause(PauseCause::target_root_gone,
        "target root " + settings_.target_label +
            " is gone (removed, or its disk unmounted); nothing is written; waiting for it "
            "to come back",
        "paused");
  check_target_back();
}

void MirrorRule::check_target_back() {
  auto weak = weak_from_this();
  root_check_timer_ = executor_.start_timer(std::chrono::seconds(2), [weak] {
    auto self = weak.lock();
    if (!self) return;
    self->root_check_timer_.reset();
    if (self->state_ != RuleState::paused || self->pause_cause_ != PauseCause::target_root_gone) {
      return;
    }
    // The store may hold the removed directory: open it afresh.
    auto look = [weak](std::optional<core::Result<core::StorePtr>> reopened) {
      auto self = weak.lock();
      if (!self || self->state_ != RuleState::paused ||
          self->pause_cause_ != PauseCause::target_root_gone) {
        return;
      }
      core::StorePtr target = self->settings_.target;
      if (reopened) {
        if (!*reopened) return self->check_target_back();  // not there yet
        target = **reopened;
      }
      target->stat(core::StoreKey::root(), [weak, target](core::Result<core::EntryInfo> root) {
        auto self = weak.lock();
        if (!self || self->state_ != RuleState::paused) return;
        if (!root || root->type != core::EntryType::Directory) return self->check_target_back();
        self->settings_.target = target;
        self->pause_cause_ = PauseCause::none;
        self->paused_reason_.clear();
        // What was known of the old target (index, listing records) is not known of
        // this one: the walk lists it all.
        self->index_.erase_subtree("");
        self->previous_listings_.reset();
        self->fresh_listings_.reset();
        self->state_ = RuleState::watching;
        self->log_.emit(Event(EventLevel::info, "resumed")
                            .rule(self->settings_.name)
                            .message("target root is back; reconciling without deleting"));
        self->start_rescan("", self->next_seq(), Origin::resume_scan);
      });
    };
    if (!self->settings_.reopen_target) return look(std::nullopt);
    self->settings_.reopen_target(
        [look](core::Result<core::StorePtr> reopened) { look(std::move(reopened)); });
  });
}

void MirrorRule::check_root_back() {
  auto weak = weak_from_this();
  root_check_timer_ = executor_.start_timer(std::chrono::seconds(2), [weak] {
    auto self = weak.lock();
    if (!self) return;
    self->root_check_timer_.reset();
    if (self->state_ != RuleState::paused || !self->source_ ||
        self->pause_cause_ != PauseCause::source_root_gone) {
      return;
    }
    // Opened on a worker: a path on a dead mount can block for as long as the mount wants.
    auto opened = std::make_shared<std::optional<core::Result<std::shared_ptr<SourceTree>>>>();
    self->executor_.run_blocking(
        [opened, settings = self->settings_] { opened->emplace(open_source(settings)); },
        [weak, opened] {
          auto self = weak.lock();
          if (!self || !*opened || self->state_ != RuleState::paused ||
              self->pause_cause_ != PauseCause::source_root_gone) {
            return;
          }
          if (!**opened) {
            self->check_root_back();
            return;
          }
          self->source_ = std::move(***opened);
          self->paused_reason_.clear();
          self->pause_cause_ = PauseCause::none;
          self->watcher_.reset();
          auto resumed = self->begin(Origin::resume_scan);
          if (!resumed) {
            self->state_ = RuleState::paused;
            self->pause_cause_ = PauseCause::source_root_gone;
            self->paused_reason_ = "source root " + self->settings_.source +
                                   " is back but cannot be watched: " + resumed.error().message();
            self->check_root_back();
          }
        });
  });
}

// ---- settle -----------------------------------------------------------------------------

void MirrorRule::settle(std::function<void(SettleOutcome)> done) {
  if (state_ == RuleState::paused) {
    done(SettleOutcome{false, "rule '" + settings_.name + "' is paused: " + paused_reason_});
    return;
  }
  if (!settings_.live || !watcher_) {
    done(SettleOutcome{false, "rule '" + settings_.name + "' is not watching"});
    return;
  }
  // Numbered per process, not per rule: a rule made anew (a reload, a restart in tests)
  // must not reuse the name of a cookie its predecessor may not have removed yet.
  static std::atomic<std::uint64_t> cookies_made{0};
  const std::string cookie = std::string(settle_cookie_prefix) + std::to_string(::getpid()) + "." +
                             std::to_string(++cookies_made);
  settle_barrier_.add(cookie, counters_.errors, std::move(done));
  auto failed = std::make_shared<std::optional<core::StoreError>>();
  auto weak = weak_from_this();
  // Polled subtrees (over the inotify watch limit, or a poll watcher) report a change only
  // at their next walk: the barrier waits for a walk begun after this call, too.
  watcher_->sync([weak, cookie] {
    auto self = weak.lock();
    if (!self) return;
    self->settle_barrier_.watcher_synced(cookie, self->next_seq_);
    self->check_settled();
  });
  executor_.run_blocking(
      [source = source_, failed, cookie] {
        if (auto created = source->create_marker(cookie); !created) *failed = created.error();
      },
      [weak, failed, cookie] {
        auto self = weak.lock();
        if (!self || !*failed) return;
        self->settle_barrier_.answer(
            cookie, SettleOutcome{false, "cannot create the settle cookie in " +
                                             self->settings_.source + ": " + (*failed)->message()});
      });
}

void MirrorRule::schedule_progress() {
  auto weak = weak_from_this();
  progress_timer_ = executor_.start_timer(std::chrono::seconds(5), [weak] {
    auto self = weak.lock();
    if (!self) return;
    self->progress_timer_.reset();
    if (self->state_ != RuleState::initial_sync) return;
    Event event(EventLevel::info, "progress");
    event.rule(self->settings_.name);
    if (self->reconciler_) {
      const ReconcileSummary& walked = self->reconciler_->progress();
      event.number("walked", static_cast<std::int64_t>(walked.source_entries))
          .number("differences", static_cast<std::int64_t>(walked.differences));
    }
    event.number("queued", static_cast<std::int64_t>(self->dirty_.size()))
        .number("copies", static_cast<std::int64_t>(self->counters_.copies))
        .number("bytes", static_cast<std::int64_t>(self->counters_.bytes))
        .duration(self->executor_.now() - self->started_at_);
    self->log_.emit(event);
    self->schedule_progress();
  });
}

void MirrorRule::check_initial_sync_end() {
  if (!initial_sync_) return;
  if (!outstanding_.empty() && *outstanding_.begin() <= initial_sync_->seq) return;
  const InitialSyncProgress progress = *initial_sync_;
  initial_sync_.reset();
  if (state_ == RuleState::initial_sync && settings_.live) state_ = RuleState::watching;
  log_.emit(
      Event(EventLevel::info, "initial_sync_end")
          .rule(settings_.name)
          .result(counters_.errors == 0 ? "ok" : "error")
          .number("source_entries", static_cast<std::int64_t>(progress.source_entries))
          .number("target_entries", static_cast<std::int64_t>(progress.target_entries))
          .number("differences", static_cast<std::int64_t>(progress.differences))
          .number("deletes", static_cast<std::int64_t>(progress.deletes))
          .number("target_dirs_listed", static_cast<std::int64_t>(progress.target_dirs_listed))
          .number("target_dirs_confirmed",
                  static_cast<std::int64_t>(progress.target_dirs_confirmed))
          .number("copies", static_cast<std::int64_t>(counters_.copies))
          .number("bytes", static_cast<std::int64_t>(counters_.bytes))
          .number("errors", static_cast<std::int64_t>(counters_.errors))
          .duration(executor_.now() - started_at_));
}

void MirrorRule::check_settled() {
  check_initial_sync_end();
  if (settle_barrier_.empty()) return;
  const Seq oldest = outstanding_.empty() ? std::numeric_limits<Seq>::max() : *outstanding_.begin();
  settle_barrier_.answer_reached(
      oldest, [this](std::uint64_t errors_before) { return judge_settle(errors_before); });
}

SettleOutcome MirrorRule::judge_settle(std::uint64_t errors_before) const {
  SettleOutcome outcome;
  const std::uint64_t errors = counters_.errors - errors_before;
  if (errors > 0) {
    outcome.ok = false;
    outcome.problem = "rule '" + settings_.name + "': " + std::to_string(errors) +
                      " action(s) failed; last error: " + last_error_;
  } else if (!standing_errors_.empty()) {
    // Earlier failures that still stand: the target is not the source there.
    outcome.ok = false;
    outcome.problem = "rule '" + settings_.name + "': " + std::to_string(standing_errors_.size()) +
                      " path(s) still cannot be mirrored; '" + standing_errors_.first_path() +
                      "': " + standing_errors_.first_message();
  }
  return outcome;
}

RuleStatus MirrorRule::status() const {
  RuleStatus status;
  status.name = settings_.name;
  status.source = settings_.source;
  status.target = settings_.target_label;
  status.state = state_;
  status.queued = dirty_.size();
  status.in_flight = in_flight_.size();
  status.rescanning = reconciler_ != nullptr;
  status.counters = counters_;
  status.last_error = last_error_;
  status.paused_reason = paused_reason_;
  status.failing_paths = standing_errors_.size();
  return status;
}

}  // namespace tetherd::daemon
