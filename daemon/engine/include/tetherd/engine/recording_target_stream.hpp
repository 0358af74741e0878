#pragma once

// RecordingTargetStream: the store's own recursive listing of a target subtree, passed
// through unchanged, that records every directory it lists into a TargetListingCache on
// the way (see there for when a record may be made). It is what a walk with no cache to
// consult uses: one recursive listing costs a worker trip per batch, where the
// directory-by-directory CachedTargetStream costs a few per directory.
//
// A directory's mtime comes from its entry in its parent's listing (the top's from a stat
// made first), which the store reads before it reads the directory's names; the racy
// window and the invalidation count are taken from before the batch that held that entry
// was asked for, so both err on the side of not recording. Loop thread only.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tetherd/core/store.hpp"
#include "tetherd/engine/target_listing_cache.hpp"

namespace tetherd::daemon {

class RecordingTargetStream final : public core::EntryStream {
 public:
  /// Opens the recursive listing of `top` (NotFound / NotADirectory like list()).
  static void open(core::StorePtr store, core::StoreKey top,
                   std::shared_ptr<TargetListingCache> fresh, std::size_t batch_size,
                   core::Callback<std::shared_ptr<RecordingTargetStream>> done);

  void next(core::Callback<std::vector<core::EntryInfo>> done) override;
  void cancel() override;

  /// Directories listed so far (every one the listing entered).
  std::uint64_t listed() const noexcept { return listed_; }

  RecordingTargetStream(std::shared_ptr<TargetListingCache> fresh, core::EntryStreamPtr inner);

 private:
  /// A directory whose entries are still arriving.
  struct Open {
    std::string dir;
    std::optional<std::int64_t> mtime_ns;
    std::int64_t seen_at_ns = 0;
    std::uint64_t invalidations_before = 0;
    TargetListingCache::Directory record;
  };
  void take(const std::vector<core::EntryInfo>& batch, std::int64_t asked_at_ns,
            std::uint64_t invalidations_before);
  void close_innermost();

  std::shared_ptr<TargetListingCache> fresh_;
  core::EntryStreamPtr inner_;
  std::vector<Open> open_;
  std::uint64_t listed_ = 0;
};

}  // namespace tetherd::daemon
