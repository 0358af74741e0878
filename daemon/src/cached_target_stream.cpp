#include "tetherd/daemon/cached_target_stream.hpp"

#include <chrono>

namespace tetherd::daemon {

namespace {

using core::EntryInfo;
using core::Errc;
using core::StoreKey;

/// Directories prepared (stat'ed, and listed or confirmed) ahead of the walk at most.
constexpr std::size_t kPrepareAhead = 64;

std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CachedTargetStream::CachedTargetStream(core::StorePtr store,
                                       std::shared_ptr<TargetListingCache> previous,
                                       std::shared_ptr<TargetListingCache> fresh,
                                       std::size_t batch_size)
    : store_(std::move(store)),
      previous_(std::move(previous)),
      fresh_(std::move(fresh)),
      batch_size_(std::max<std::size_t>(1, batch_size)) {}

void CachedTargetStream::open(core::StorePtr store, StoreKey top,
                              std::shared_ptr<TargetListingCache> previous,
                              std::shared_ptr<TargetListingCache> fresh, std::size_t batch_size,
                              core::Callback<std::shared_ptr<CachedTargetStream>> done) {
  auto stream = std::make_shared<CachedTargetStream>(std::move(store), std::move(previous),
                                                     std::move(fresh), batch_size);
  // The top directory is prepared like any other; the walk starts inside it.
  stream->awaiting_ = top;
  stream->pending_ = [stream, top,
                      done = std::move(done)](core::Result<std::vector<EntryInfo>> opened) {
    if (!opened) return done(std::move(opened).error());
    done(stream);
  };
  stream->opening_ = true;
  stream->prepare(top);
}

void CachedTargetStream::next(core::Callback<std::vector<EntryInfo>> done) {
  pending_ = std::move(done);
  if (cancelled_) return deliver(core::StoreError::make(Errc::Cancelled, "listing cancelled"));
  if (failure_) return deliver(*failure_);
  produce();
}

void CachedTargetStream::cancel() {
  cancelled_ = true;
  if (pending_) deliver(core::StoreError::make(Errc::Cancelled, "listing cancelled"));
}

bool CachedTargetStream::from_record(const StoreKey& key) const {
  return recorded_dirs_.contains(key.parent().str());
}

void CachedTargetStream::prepare(const StoreKey& dir) {
  if (prepared_.contains(dir.str())) return;
  prepared_.emplace(dir.str(), Prepared{});
  const std::int64_t listed_at_ns = wall_clock_ns();
  const std::uint64_t invalidations_before = fresh_->invalidations();
  auto self = std::static_pointer_cast<CachedTargetStream>(shared_from_this());
  store_->stat(dir, [self, dir, listed_at_ns, invalidations_before](core::Result<EntryInfo> info) {
    if (self->cancelled_) return;
    if (!info) return self->prepared(dir, std::move(info).error());
    if (info->type != core::EntryType::Directory) {
      return self->prepared(dir, core::StoreError::make(Errc::NotADirectory, dir.str()));
    }
    if (auto slot = self->prepared_.find(dir.str()); slot != self->prepared_.end()) {
      slot->second.fresh = *info;
    }
    if (!info->mtime) {  // a store without directory mtimes: nothing can be confirmed
      return self->list_for_real(dir, std::nullopt, listed_at_ns, invalidations_before);
    }
    const std::int64_t mtime_ns = info->mtime->time_since_epoch().count();
    std::optional<TargetListingCache::Directory> record;
    if (self->previous_) record = self->previous_->take(dir.str());
    if (record && record->mtime_ns == mtime_ns) {
      std::vector<EntryInfo> entries;
      entries.reserve(record->entries.size());
      for (const auto& entry : record->entries) {
        entries.push_back(TargetListingCache::info_of(dir, entry));
      }
      ++self->counts_.confirmed;
      self->recorded_dirs_.insert(dir.str());
      self->fresh_->record(dir.str(), std::move(*record), invalidations_before);
      return self->prepared(dir, std::move(entries));
    }
    self->list_for_real(dir, mtime_ns, listed_at_ns, invalidations_before);
  });
}

void CachedTargetStream::list_for_real(const StoreKey& dir, std::optional<std::int64_t> mtime_ns,
                                       std::int64_t listed_at_ns,
                                       std::uint64_t invalidations_before) {
  core::ListOptions options;
  options.recursive = false;
  options.batch_size = 512;
  auto self = std::static_pointer_cast<CachedTargetStream>(shared_from_this());
  store_->list(dir, options,
               [self, dir, mtime_ns, listed_at_ns,
                invalidations_before](core::Result<core::EntryStreamPtr> listing) {
                 if (self->cancelled_) return;
                 if (!listing) return self->prepared(dir, std::move(listing).error());
                 self->drain_listing(dir, std::move(*listing),
                                     std::make_shared<std::vector<EntryInfo>>(), mtime_ns,
                                     listed_at_ns, invalidations_before);
               });
}

void CachedTargetStream::drain_listing(const StoreKey& dir, core::EntryStreamPtr listing,
                                       std::shared_ptr<std::vector<EntryInfo>> entries,
                                       std::optional<std::int64_t> mtime_ns,
                                       std::int64_t listed_at_ns,
                                       std::uint64_t invalidations_before) {
  auto self = std::static_pointer_cast<CachedTargetStream>(shared_from_this());
  listing->next([self, dir, listing, entries, mtime_ns, listed_at_ns,
                 invalidations_before](core::Result<std::vector<EntryInfo>> batch) {
    if (self->cancelled_) return;
    if (!batch) return self->prepared(dir, std::move(batch).error());
    if (!batch->empty()) {
      for (auto& entry : *batch)
        entries->push_back(std::move(entry));
      return self->drain_listing(dir, listing, entries, mtime_ns, listed_at_ns,
                                 invalidations_before);
    }
    ++self->counts_.listed;
    if (mtime_ns && TargetListingCache::recordable(*mtime_ns, listed_at_ns)) {
      TargetListingCache::Directory record;
      record.mtime_ns = *mtime_ns;
      record.entries.reserve(entries->size());
      for (const auto& entry : *entries)
        record.entries.push_back(TargetListingCache::entry_of(entry));
      self->fresh_->record(dir.str(), std::move(record), invalidations_before);
    }
    self->prepared(dir, std::move(*entries));
  });
}

void CachedTargetStream::prepared(const StoreKey& dir,
                                  core::Result<std::vector<EntryInfo>> entries) {
  auto slot = prepared_.find(dir.str());
  if (slot == prepared_.end()) return;
  slot->second.ready = true;
  slot->second.entries = std::move(entries);
  if (pending_) produce();
}

void CachedTargetStream::read_ahead() {
  if (levels_.empty()) return;
  Level& level = levels_.back();
  level.prefetch_next = std::max(level.prefetch_next, level.next);
  while (prepared_.size() < kPrepareAhead && level.prefetch_next < level.entries.size()) {
    const EntryInfo& entry = level.entries[level.prefetch_next++];
    if (entry.type == core::EntryType::Directory) prepare(entry.key);
  }
}

void CachedTargetStream::produce() {
  while (pending_) {
    if (awaiting_) {
      auto slot = prepared_.find(awaiting_->str());
      if (slot == prepared_.end()) {
        prepare(*awaiting_);
        slot = prepared_.find(awaiting_->str());
      }
      if (!slot->second.ready) {
        // Hand over what is there rather than hold it while a directory is prepared.
        if (!batch_.empty() && !opening_) deliver(std::move(batch_));
        return;
      }
      core::Result<std::vector<EntryInfo>> entries = std::move(slot->second.entries);
      prepared_.erase(slot);
      const StoreKey dir = std::move(*awaiting_);
      awaiting_.reset();
      if (entries) {
        levels_.push_back(Level{dir, std::move(*entries), 0, 0});
        read_ahead();
      } else {
        const core::StoreError& error = entries.error();
        // Opening: the caller's error. Below: gone or replaced since its parent was read,
        // as a listing that met it there would have skipped it.
        if (opening_ || (error.code != Errc::NotFound && error.code != Errc::NotADirectory)) {
          if (!opening_) failure_ = error;
          opening_ = false;
          return deliver(error);
        }
      }
      if (opening_) {
        opening_ = false;
        return deliver(std::vector<EntryInfo>{});
      }
      continue;
    }
    if (batch_.size() >= batch_size_) return deliver(std::move(batch_));
    if (levels_.empty()) return deliver(std::move(batch_));  // empty: the end
    Level& level = levels_.back();
    if (level.next == level.entries.size()) {
      levels_.pop_back();
      continue;
    }
    EntryInfo& entry = level.entries[level.next];
    if (entry.type == core::EntryType::Directory) {
      // A directory's entry goes out once its own stat is in, with what that stat saw.
      auto slot = prepared_.find(entry.key.str());
      if (slot == prepared_.end()) {
        prepare(entry.key);
        slot = prepared_.find(entry.key.str());
      }
      if (!slot->second.ready) {
        if (!batch_.empty()) deliver(std::move(batch_));
        return;
      }
      if (const auto& fresh = slot->second.fresh) {
        entry.size = fresh->size;
        entry.mtime = fresh->mtime;
        entry.mode = fresh->mode;
      }
      awaiting_ = entry.key;
    }
    ++level.next;
    batch_.push_back(std::move(entry));
    read_ahead();
  }
}

void CachedTargetStream::deliver(core::Result<std::vector<EntryInfo>> batch) {
  if (!pending_) return;
  auto done = std::move(*pending_);
  pending_.reset();
  batch_.clear();
  store_->executor().post(
      [done = std::move(done), batch = std::move(batch)]() mutable { done(std::move(batch)); });
}

}  // namespace tetherd::daemon
