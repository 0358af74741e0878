#include "tetherd/engine/recording_target_stream.hpp"

namespace tetherd::daemon {

namespace {

std::optional<std::int64_t> mtime_of(const core::EntryInfo& info) {
  if (!info.mtime) return std::nullopt;
  return info.mtime->time_since_epoch().count();
}

}  // namespace

RecordingTargetStream::RecordingTargetStream(std::shared_ptr<TargetListingCache> fresh,
                                             core::EntryStreamPtr inner)
    : fresh_(std::move(fresh)), inner_(std::move(inner)) {}

void RecordingTargetStream::open(core::StorePtr store, core::StoreKey top,
                                 std::shared_ptr<TargetListingCache> fresh, std::size_t batch_size,
                                 core::Callback<std::shared_ptr<RecordingTargetStream>> done) {
  const std::int64_t asked_at_ns = wall_clock_ns();
  const std::uint64_t invalidations_before = fresh->invalidations();
  // The top's own mtime first: its entries are read after it.
  store->stat(top, [store, top, fresh, batch_size, asked_at_ns, invalidations_before,
                    done = std::move(done)](core::Result<core::EntryInfo> info) mutable {
    if (!info) return done(std::move(info).error());
    if (info->type != core::EntryType::Directory) {
      return done(core::StoreError::make(core::Errc::NotADirectory, top.str()));
    }
    core::ListOptions options;
    options.recursive = true;
    options.batch_size = batch_size;
    const std::optional<std::int64_t> top_mtime = mtime_of(*info);
    store->list(top, options,
                [top, fresh, top_mtime, asked_at_ns, invalidations_before,
                 done = std::move(done)](core::Result<core::EntryStreamPtr> listing) {
                  if (!listing) return done(std::move(listing).error());
                  auto stream = std::make_shared<RecordingTargetStream>(fresh, *listing);
                  Open root;
                  root.dir = top.str();
                  root.mtime_ns = top_mtime;
                  root.seen_at_ns = asked_at_ns;
                  root.invalidations_before = invalidations_before;
                  if (top_mtime) root.record.mtime_ns = *top_mtime;
                  stream->open_.push_back(std::move(root));
                  done(stream);
                });
  });
}

void RecordingTargetStream::next(core::Callback<std::vector<core::EntryInfo>> done) {
  const std::int64_t asked_at_ns = wall_clock_ns();
  const std::uint64_t invalidations_before = fresh_->invalidations();
  auto self = std::static_pointer_cast<RecordingTargetStream>(shared_from_this());
  inner_->next([self, asked_at_ns, invalidations_before,
                done = std::move(done)](core::Result<std::vector<core::EntryInfo>> batch) {
    if (batch) self->take(*batch, asked_at_ns, invalidations_before);
    done(std::move(batch));
  });
}

void RecordingTargetStream::cancel() {
  open_.clear();  // a cut listing records nothing more
  inner_->cancel();
}

void RecordingTargetStream::take(const std::vector<core::EntryInfo>& batch,
                                 std::int64_t asked_at_ns, std::uint64_t invalidations_before) {
  if (batch.empty()) {  // the end: every open directory is complete
    while (!open_.empty())
      close_innermost();
    return;
  }
  for (const auto& entry : batch) {
    // Depth first, a directory before its contents: the entry's parent is open, and the
    // directories opened after it are complete.
    const std::string parent = entry.key.parent().str();
    while (!open_.empty() && open_.back().dir != parent)
      close_innermost();
    if (open_.empty()) return;  // not beneath the top (cannot happen): record nothing
    open_.back().record.entries.push_back(TargetListingCache::entry_of(entry));
    if (entry.type == core::EntryType::Directory) {
      Open child;
      child.dir = entry.key.str();
      child.mtime_ns = mtime_of(entry);
      child.seen_at_ns = asked_at_ns;
      child.invalidations_before = invalidations_before;
      if (child.mtime_ns) child.record.mtime_ns = *child.mtime_ns;
      open_.push_back(std::move(child));
    }
  }
}

void RecordingTargetStream::close_innermost() {
  Open done = std::move(open_.back());
  open_.pop_back();
  ++listed_;
  if (done.mtime_ns && fresh_->recordable(*done.mtime_ns, done.seen_at_ns)) {
    fresh_->record(done.dir, std::move(done.record), done.invalidations_before);
  }
}

}  // namespace tetherd::daemon
