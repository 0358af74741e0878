#include "tetherd/engine/reconciler.hpp"

#include <algorithm>
#include <utility>

#include "tetherd/engine/cached_target_stream.hpp"
#include "tetherd/engine/recording_target_stream.hpp"
#include "tetherd/engine/settle_cookie.hpp"

namespace tetherd::daemon {

namespace {
/// Source directories listed ahead of the walk at most, per level of it.
constexpr std::size_t kReadAhead = 32;
/// Directories listed by one worker job at most.
constexpr std::size_t kListingsPerJob = 8;
/// Listings held at most, over every level of the walk (memory).
constexpr std::size_t kMaxListings = 256;
}  // namespace

using core::EntryType;
using core::Errc;
using core::StoreKey;

Reconciler::Reconciler(core::Executor& executor, std::shared_ptr<const SourceTree> source,
                       core::StorePtr target, std::shared_ptr<const core::PathFilter> filter,
                       MirrorPolicy policy, std::string subtree, ReconcilerCallbacks callbacks,
                       std::optional<TargetListingCaches> caches)
    : executor_(executor),
      source_(std::move(source)),
      target_(std::move(target)),
      filter_(std::move(filter)),
      policy_(policy),
      subtree_(std::move(subtree)),
      callbacks_(std::move(callbacks)),
      caches_(std::move(caches)) {}

bool Reconciler::listed(const StoreKey& key) const {
  return !cached_stream_ || !cached_stream_->from_record(key);
}

void Reconciler::start() {
  if (started_) return;
  started_ = true;
  // The subtree's own listing is the first frame; the subtree itself is the caller's.
  SourceEntry top;
  top.path = subtree_;
  top.type = EntryType::Directory;
  pending_descend_ = top;
  source_busy_ = true;
  auto self = shared_from_this();
  auto key = StoreKey::parse(subtree_);
  if (!key) {
    finish(std::move(key).error());
    return;
  }
  target_busy_ = true;

  core::ListOptions options;
  options.recursive = true;
  options.batch_size = 512;
  auto opened = [self](core::Result<core::EntryStreamPtr> stream) {
    self->target_busy_ = false;
    if (!stream) {
      // Nothing on the target there (yet): everything in the source is new.
      if (stream.error().code == Errc::NotFound || stream.error().code == Errc::NotADirectory) {
        self->target_done_ = true;
      } else {
        self->finish(std::move(stream).error());
        return;
      }
    } else {
      self->target_stream_ = std::move(*stream);
      self->request_target_batch();
    }
    self->step();
  };
  if (caches_ && (!caches_->previous || caches_->previous->empty())) {
    // Nothing to confirm: the store's recursive listing, recorded on the way.
    RecordingTargetStream::open(
        target_, *key, caches_->fresh, options.batch_size,
        [self, opened](core::Result<std::shared_ptr<RecordingTargetStream>> stream) {
          if (!stream) return opened(std::move(stream).error());
          self->recording_stream_ = *stream;
          opened(core::EntryStreamPtr(std::move(*stream)));
        });
  } else if (caches_) {
    CachedTargetStream::open(
        target_, *key, caches_->previous, caches_->fresh, options.batch_size,
        [self, opened](core::Result<std::shared_ptr<CachedTargetStream>> stream) {
          if (!stream) return opened(std::move(stream).error());
          self->cached_stream_ = *stream;
          opened(core::EntryStreamPtr(std::move(*stream)));
        });
  } else {
    target_->list(*key, options, std::move(opened));
  }
  fetch_source();
}

void Reconciler::resume() {
  if (!paused_) return;
  paused_ = false;
  step();
}

void Reconciler::cancel() {
  if (finished_) return;
  if (target_stream_) target_stream_->cancel();
  finish(core::StoreError::make(Errc::Cancelled, "reconciliation cancelled"));
}

void Reconciler::finish(core::Result<ReconcileSummary> outcome) {
  if (finished_) return;
  finished_ = true;
  frames_.clear();
  listings_.clear();
  if (target_stream_ && !target_done_) target_stream_->cancel();
  if (outcome && cached_stream_) {
    outcome->target_dirs_listed = cached_stream_->counts().listed;
    outcome->target_dirs_confirmed = cached_stream_->counts().confirmed;
  }
  if (outcome && recording_stream_) outcome->target_dirs_listed = recording_stream_->listed();
  auto done = std::move(callbacks_.on_finished);
  callbacks_ = {};
  if (done) done(std::move(outcome));
}

bool Reconciler::included(const std::string& path, bool is_dir) const {
  // Settle cookies never take part, on either side.
  return !is_settle_cookie(path) && filter_->includes(path, is_dir);
}

void Reconciler::fetch_source() {
  // Loop thread. Produces the next source entry in walk order into source_head_.
  source_busy_ = true;
  if (pending_descend_) {
    const std::string dir = pending_descend_->path;
    pending_descend_.reset();
    request_listing(dir);
    if (listings_.at(dir).ready) {
      descend_into(dir);
    } else {
      awaiting_listing_ = dir;  // its completion continues the walk
    }
    return;
  }
  while (!frames_.empty() && frames_.back().next >= frames_.back().entries.size()) {
    frames_.pop_back();
  }
  if (frames_.empty()) {
    source_done_ = true;
    source_busy_ = false;
    step();
    return;
  }
  read_ahead();
  Frame& frame = frames_.back();
  SourceEntry entry = std::move(frame.entries[frame.next++]);
  auto key = StoreKey::parse(entry.path);
  if (!key) {  // cannot be a store key (over-long name): skip, reported by examine if touched
    fetch_source();
    return;
  }
  source_head_key_ = std::move(*key);
  source_head_ = std::move(entry);
  source_busy_ = false;
  step();
}

void Reconciler::request_listing(const std::string& dir) {
  if (listings_.contains(dir)) return;
  request_listings({dir}, false);
}

void Reconciler::request_listings(std::vector<std::string> dirs, bool ahead) {
  for (const auto& dir : dirs) {
    Listing listing;
    listing.ahead = ahead;
    listings_.emplace(dir, std::move(listing));
  }
  auto self = shared_from_this();
  using Listed = std::vector<core::Result<std::vector<SourceEntry>>>;
  auto listed = std::make_shared<Listed>();
  auto wanted = std::make_shared<std::vector<std::string>>(std::move(dirs));
  executor_.run_blocking(
      [source = source_, wanted, listed] {
        listed->reserve(wanted->size());
        for (const auto& dir : *wanted)
          listed->push_back(source->list(dir));
      },
      [self, wanted, listed] {
        if (self->finished_ || listed->size() != wanted->size()) return;
        std::optional<std::string> resume;
        for (std::size_t index = 0; index < wanted->size(); ++index) {
          const std::string& dir = (*wanted)[index];
          auto slot = self->listings_.find(dir);
          if (slot == self->listings_.end()) continue;
          slot->second.ready = true;
          slot->second.result = std::move((*listed)[index]);
          if (self->awaiting_listing_ == dir) resume = dir;
        }
        if (resume) {
          self->awaiting_listing_.reset();
          self->descend_into(*resume);
        }
      });
}

void Reconciler::descend_into(const std::string& dir) {
  auto slot = listings_.find(dir);
  core::Result<std::vector<SourceEntry>>& listing = slot->second.result;
  if (listing) {
    // A listing read ahead was counted against its parent's frame (the deepest one, which
    // this directory's entry came from).
    if (slot->second.ahead && !frames_.empty() && frames_.back().read_ahead > 0) {
      --frames_.back().read_ahead;
    }
    frames_.push_back(Frame{std::move(*listing), 0, 0, 0});
    listings_.erase(slot);
  } else {
    core::StoreError error = listing.error();
    listings_.erase(slot);
    // Vanished or replaced meanwhile: its events follow. The subtree root itself is a real
    // failure; any other directory that cannot be listed is one for its own subtree only:
    // the walk goes on around it, leaving the target's copy of it untouched.
    const bool absent = error.code == Errc::NotFound || error.code == Errc::NotADirectory;
    if (dir == subtree_) {
      finish(std::move(error));
      return;
    }
    if (!absent) {
      if (auto key = StoreKey::parse(dir)) skip_target_subtree(*key, false);
      summary_.unreadable.emplace_back(dir, std::move(error));
    }
  }
  fetch_source();
}

void Reconciler::read_ahead() {
  if (frames_.empty()) return;
  // The deepest level's directories are the next ones the walk enters, in this order.
  Frame& frame = frames_.back();
  frame.prefetch_next = std::max(frame.prefetch_next, frame.next);
  // Several directories per worker job: a trip to a worker costs more than listing a small
  // directory (a tree of many near-empty directories was bound by the trips).
  // Each frame has a budget of its own: the listings its parents read ahead wait until the
  // walk comes back up to them, and must not starve the directories it enters next. It
  // waits for room for a whole batch: refilling slot by slot would be a job per directory.
  if (frame.read_ahead + kListingsPerJob > kReadAhead || listings_.size() >= kMaxListings) return;
  std::vector<std::string> batch;
  auto send = [this, &frame](std::vector<std::string> dirs) {
    frame.read_ahead += dirs.size();
    request_listings(std::move(dirs), true);
  };
  while (frame.read_ahead + batch.size() < kReadAhead &&
         listings_.size() + batch.size() < kMaxListings &&
         frame.prefetch_next < frame.entries.size()) {
    const SourceEntry& entry = frame.entries[frame.prefetch_next++];
    if (entry.type == EntryType::Directory && filter_->should_descend(entry.path) &&
        !listings_.contains(entry.path)) {
      batch.push_back(entry.path);
      if (batch.size() == kListingsPerJob) send(std::exchange(batch, {}));
    }
  }
  if (!batch.empty()) send(std::move(batch));
}

void Reconciler::advance_target() {
  if (target_next_ < target_batch_.size() || target_done_) return;
  if (target_ahead_) {
    if (target_ahead_->empty()) {
      target_done_ = true;
      target_ahead_.reset();
      return;
    }
    target_batch_ = std::move(*target_ahead_);
    target_ahead_.reset();
    target_next_ = 0;
  }
  request_target_batch();
}

void Reconciler::request_target_batch() {
  if (!target_stream_ || target_busy_ || target_ahead_ || target_done_) return;
  target_busy_ = true;
  auto self = shared_from_this();
  target_stream_->next([self](core::Result<std::vector<core::EntryInfo>> batch) {
    self->on_target_batch(std::move(batch));
  });
}

void Reconciler::on_target_batch(core::Result<std::vector<core::EntryInfo>> batch) {
  target_busy_ = false;
  if (finished_) return;
  if (!batch) {
    finish(std::move(batch).error());
    return;
  }
  target_ahead_ = std::move(*batch);
  advance_target();
  step();
}

void Reconciler::descend_after(const SourceEntry& source) {
  if (source.type == EntryType::Directory && filter_->should_descend(source.path)) {
    pending_descend_ = source;
  }
}

void Reconciler::skip_target_subtree(const StoreKey& top, bool deleted) {
  skip_under_ = top;
  skipped_are_deleted_ = deleted;
}

void Reconciler::handle_source_only(const SourceEntry& source, const StoreKey& key) {
  ++summary_.source_entries;
  ++summary_.differences;
  descend_after(source);
  // The target's "nothing there" is as good as the listing of the parent it comes from.
  if (!callbacks_.on_difference(source, std::nullopt, listed(key))) paused_ = true;
}

void Reconciler::handle_target_only(const core::EntryInfo& target) {
  const bool is_dir = target.type == EntryType::Directory;
  if (!included(target.key.str(), is_dir)) {
    if (is_dir) skip_target_subtree(target.key);
    return;
  }
  ++summary_.target_entries;
  ++summary_.deleted_entries;
  summary_.deletions.emplace_back(target.key.str(), listed(target.key)
                                                        ? std::optional(TargetState::from(target))
                                                        : std::nullopt);
  if (is_dir) skip_target_subtree(target.key);
}

void Reconciler::handle_both(const SourceEntry& source, const core::EntryInfo& target) {
  ++summary_.source_entries;
  ++summary_.target_entries;
  const TargetState state = TargetState::from(target);
  const Plan plan = plan_path(source, state, policy_, true);
  const bool replaces_tree =
      target.type == EntryType::Directory && source.type != EntryType::Directory;
  if (replaces_tree) skip_target_subtree(target.key);
  descend_after(source);
  if (plan.actions.empty() && plan.refused.empty()) {
    if (callbacks_.on_unchanged) callbacks_.on_unchanged(source, state);
    return;
  }
  ++summary_.differences;
  if (!callbacks_.on_difference(source, state, listed(target.key))) paused_ = true;
}

void Reconciler::step() {
  if (stepping_ || finished_) return;
  stepping_ = true;
  while (!finished_ && !paused_) {
    // Target side: drop skipped entries, refill the batch when it runs out.
    while (target_next_ < target_batch_.size() && skip_under_ &&
           target_batch_[target_next_].key.is_within(*skip_under_)) {
      const auto& skipped = target_batch_[target_next_];
      if (skipped_are_deleted_ &&
          included(skipped.key.str(), skipped.type == EntryType::Directory)) {
        ++summary_.target_entries;
        ++summary_.deleted_entries;
      }
      ++target_next_;
    }
    if (target_next_ < target_batch_.size() && skip_under_ &&
        !target_batch_[target_next_].key.is_within(*skip_under_)) {
      skip_under_.reset();
    }
    if (target_next_ >= target_batch_.size() && !target_done_) {
      advance_target();
      if (target_next_ < target_batch_.size() || target_done_) continue;
      break;  // the next batch is on its way; its arrival steps again
    }
    const bool source_ready = source_head_.has_value() || source_done_;
    if (!source_ready) {
      if (!source_busy_) fetch_source();
      if (source_busy_) break;  // a listing is on its way; its completion steps again
      continue;
    }
    const bool have_target = target_next_ < target_batch_.size();
    if (!source_head_ && !have_target) {
      stepping_ = false;
      finish(std::move(summary_));
      return;
    }
    // A deletion or replacement of a directory on the target only covers what follows it.
    if (!have_target || (source_head_ && *source_head_key_ < target_batch_[target_next_].key)) {
      SourceEntry source = std::move(*source_head_);
      source_head_.reset();
      if (included(source.path, source.type == EntryType::Directory) ||
          (source.type == EntryType::Directory && filter_->should_descend(source.path))) {
        if (included(source.path, source.type == EntryType::Directory)) {
          handle_source_only(source, *source_head_key_);
        } else {
          descend_after(source);
        }
      }
      continue;
    }
    const core::EntryInfo target = target_batch_[target_next_];
    if (!source_head_ || target.key < *source_head_key_) {
      ++target_next_;
      handle_target_only(target);
      continue;
    }
    // Same key on both sides.
    ++target_next_;
    SourceEntry source = std::move(*source_head_);
    source_head_.reset();
    const bool is_dir = source.type == EntryType::Directory;
    if (!included(source.path, is_dir)) {
      if (is_dir && filter_->should_descend(source.path)) {
        descend_after(source);  // not mirrored itself, but may contain included entries
      } else if (target.type == EntryType::Directory) {
        skip_target_subtree(target.key);
      }
      continue;
    }
    handle_both(source, target);
  }
  stepping_ = false;
}

}  // namespace tetherd::daemon
