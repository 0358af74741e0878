#include "tetherd/engine/cached_target_stream.hpp"

namespace tetherd::daemon {

namespace {

using core::EntryInfo;
using core::Errc;
using core::StoreKey;

/// Directories prepared (stat'ed, and listed or confirmed) ahead of the walk at most.
constexpr std::size_t kPrepareAhead = 64;

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

void CachedTargetStream::prepare(const StoreKey& dir, std::optional<EntryInfo> known,
                                 std::int64_t known_at_ns) {
  if (prepared_.contains(dir.str())) return;
  prepared_.emplace(dir.str(), Prepared{});
  auto look = std::make_shared<Look>();
  look->dir = dir;
  // The racy window counts from when the mtime was seen: the stat below, or the listing
  // that gave `known`.
  look->listed_at_ns = known ? known_at_ns : wall_clock_ns();
  look->invalidations_before = fresh_->invalidations();
  if (known) return examine(std::move(look), *known);
  auto self = std::static_pointer_cast<CachedTargetStream>(shared_from_this());
  store_->stat(dir, [self, look](core::Result<EntryInfo> info) {
    if (self->cancelled_) return;
    if (!info) return self->prepared(look->dir, std::move(info).error(), false);
    self->examine(look, *info);
  });
}

void CachedTargetStream::examine(std::shared_ptr<Look> look, const EntryInfo& info) {
  const StoreKey& dir = look->dir;
  if (info.type != core::EntryType::Directory) {
    return prepared(dir, core::StoreError::make(Errc::NotADirectory, dir.str()), false);
  }
  if (auto slot = prepared_.find(dir.str()); slot != prepared_.end()) slot->second.fresh = info;
  if (!info.mtime) return list_for_real(std::move(look));  // no mtimes: nothing to confirm
  look->mtime_ns = info.mtime->time_since_epoch().count();
  std::optional<TargetListingCache::Directory> record;
  if (previous_) record = previous_->take(dir.str());
  if (!record || record->mtime_ns != *look->mtime_ns) return list_for_real(std::move(look));
  // Confirmed. A record that is mostly subdirectories is listed anyway: one listing gives
  // every subdirectory's fresh state, where the record would need a stat (a worker trip)
  // for each of them.
  std::size_t subdirectories = 0;
  for (const auto& entry : record->entries) {
    if (entry.type == core::EntryType::Directory) ++subdirectories;
  }
  const std::size_t others = record->entries.size() - subdirectories;
  if (subdirectories >= 2 && others <= 4 * subdirectories + 16) {
    look->confirmed = std::move(record);
    return list_for_real(std::move(look));
  }
  std::vector<EntryInfo> entries;
  entries.reserve(record->entries.size());
  for (const auto& entry : record->entries) {
    entries.push_back(TargetListingCache::info_of(dir, entry));
  }
  ++counts_.confirmed;
  recorded_dirs_.insert(dir.str());
  fresh_->record(dir.str(), std::move(*record), look->invalidations_before);
  prepared(dir, std::move(entries), false);
}

void CachedTargetStream::list_for_real(std::shared_ptr<Look> look) {
  core::ListOptions options;
  options.recursive = false;
  options.batch_size = 512;
  auto self = std::static_pointer_cast<CachedTargetStream>(shared_from_this());
  const StoreKey dir = look->dir;
  store_->list(dir, options, [self, look](core::Result<core::EntryStreamPtr> listing) {
    if (self->cancelled_) return;
    if (!listing) return self->prepared(look->dir, std::move(listing).error(), false);
    self->drain_listing(look, std::move(*listing));
  });
}

void CachedTargetStream::drain_listing(std::shared_ptr<Look> look, core::EntryStreamPtr listing) {
  auto self = std::static_pointer_cast<CachedTargetStream>(shared_from_this());
  listing->next([self, look, listing](core::Result<std::vector<EntryInfo>> batch) {
    if (self->cancelled_) return;
    if (!batch) return self->prepared(look->dir, std::move(batch).error(), false);
    if (!batch->empty()) {
      for (auto& entry : *batch)
        look->entries.push_back(std::move(entry));
      return self->drain_listing(look, listing);
    }
    TargetListingCache::Directory record;
    record.mtime_ns = look->mtime_ns.value_or(0);
    record.entries.reserve(look->entries.size());
    for (const auto& entry : look->entries) {
      record.entries.push_back(TargetListingCache::entry_of(entry));
    }
    // A confirmed record listed for its subdirectories counts as confirmed when the listing
    // says the same (the saved cache is then still right as it is).
    if (look->confirmed && look->confirmed->entries == record.entries) {
      ++self->counts_.confirmed;
    } else {
      ++self->counts_.listed;
    }
    if (look->mtime_ns && self->fresh_->recordable(*look->mtime_ns, look->listed_at_ns)) {
      self->fresh_->record(look->dir.str(), std::move(record), look->invalidations_before);
    }
    self->prepared(look->dir, std::move(look->entries), true, look->listed_at_ns);
  });
}

void CachedTargetStream::prepared(const StoreKey& dir, core::Result<std::vector<EntryInfo>> entries,
                                  bool listed, std::int64_t listed_at_ns) {
  auto slot = prepared_.find(dir.str());
  if (slot == prepared_.end()) return;
  slot->second.ready = true;
  slot->second.listed = listed;
  slot->second.listed_at_ns = listed_at_ns;
  slot->second.entries = std::move(entries);
  if (pending_ && !producing_) produce();
}

void CachedTargetStream::read_ahead() {
  if (levels_.empty()) return;
  Level& level = levels_.back();
  level.prefetch_next = std::max(level.prefetch_next, level.next);
  while (prepared_.size() < kPrepareAhead && level.prefetch_next < level.entries.size()) {
    const EntryInfo& entry = level.entries[level.prefetch_next++];
    if (entry.type != core::EntryType::Directory) continue;
    prepare(entry.key, level.listed ? std::optional<EntryInfo>(entry) : std::nullopt,
            level.listed_at_ns);
  }
}

void CachedTargetStream::produce() {
  // prepare() may complete a directory at once (its entry known from a fresh listing):
  // the loop below finds it ready, so prepared() must not run produce() inside itself.
  producing_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{producing_};
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
      const bool listed = slot->second.listed;
      const std::int64_t listed_at_ns = slot->second.listed_at_ns;
      prepared_.erase(slot);
      const StoreKey dir = std::move(*awaiting_);
      awaiting_.reset();
      if (entries) {
        levels_.push_back(Level{dir, std::move(*entries), 0, 0, listed, listed_at_ns});
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
        prepare(entry.key, level.listed ? std::optional<EntryInfo>(entry) : std::nullopt,
                level.listed_at_ns);
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
