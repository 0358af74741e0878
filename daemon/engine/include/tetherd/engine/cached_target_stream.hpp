#pragma once

// CachedTargetStream: the recursive listing of a target subtree (the same entries, in the
// same order, as Store::list with recursive = true), built directory by directory: each
// directory is stat'ed first, and when its mtime is the one the previous cache recorded,
// its recorded entries are used instead of listing and stat'ing them. Every directory it
// lists or confirms is recorded into `fresh` (see TargetListingCache for what makes that
// safe). Directories are prepared ahead of the walk, several at a time, so the stats
// overlap on the workers.
//
// Loop thread only, like every EntryStream. Completions never run inline.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "tetherd/core/store.hpp"
#include "tetherd/engine/target_listing_cache.hpp"

namespace tetherd::daemon {

class CachedTargetStream final : public core::EntryStream {
 public:
  struct Counts {
    std::uint64_t listed = 0;     ///< directories listed for real
    std::uint64_t confirmed = 0;  ///< directories whose record was used
  };

  /// Opens the stream on directory `top` of `store`: NotFound / NotADirectory like list().
  static void open(core::StorePtr store, core::StoreKey top,
                   std::shared_ptr<TargetListingCache> previous,
                   std::shared_ptr<TargetListingCache> fresh, std::size_t batch_size,
                   core::Callback<std::shared_ptr<CachedTargetStream>> done);

  void next(core::Callback<std::vector<core::EntryInfo>> done) override;
  void cancel() override;

  /// Whether `key`'s entry came from a record rather than from a listing just made (the
  /// caller then stats it before acting on what it says).
  bool from_record(const core::StoreKey& key) const;
  const Counts& counts() const noexcept { return counts_; }

  CachedTargetStream(core::StorePtr store, std::shared_ptr<TargetListingCache> previous,
                     std::shared_ptr<TargetListingCache> fresh, std::size_t batch_size);

 private:
  struct Level {
    core::StoreKey dir;
    std::vector<core::EntryInfo> entries;
    std::size_t next = 0;
    std::size_t prefetch_next = 0;
    bool listed = false;  ///< entries from a listing just made: their attributes are fresh
    std::int64_t listed_at_ns = 0;  ///< when that listing began (its entries are no older)
  };
  struct Prepared {
    bool ready = false;
    bool listed = false;
    std::int64_t listed_at_ns = 0;
    /// The directory as its stat (or its parent's fresh listing) just saw it: its own
    /// entry is emitted with these attributes, not the ones its parent's record holds (its
    /// mtime moves with its entries, which the parent's mtime does not show).
    std::optional<core::EntryInfo> fresh;
    core::Result<std::vector<core::EntryInfo>> entries =
        core::StoreError::make(core::Errc::IoError);
  };
  /// One directory being prepared.
  struct Look {
    core::StoreKey dir;
    std::optional<std::int64_t> mtime_ns;  ///< before the listing (nullopt: do not record)
    std::int64_t listed_at_ns = 0;
    std::uint64_t invalidations_before = 0;
    /// A record whose mtime matched, listed anyway for its subdirectories' sake.
    std::optional<TargetListingCache::Directory> confirmed;
    std::vector<core::EntryInfo> entries;
  };

  /// Takes the record of `dir` or lists it, into prepared_: after a stat of it, or at once
  /// with `known`, its entry in a listing begun at `known_at_ns`.
  void prepare(const core::StoreKey& dir, std::optional<core::EntryInfo> known = std::nullopt,
               std::int64_t known_at_ns = 0);
  void examine(std::shared_ptr<Look> look, const core::EntryInfo& info);
  void list_for_real(std::shared_ptr<Look> look);
  void drain_listing(std::shared_ptr<Look> look, core::EntryStreamPtr listing);
  /// `listed`: the entries come from a listing begun at `listed_at_ns`.
  void prepared(const core::StoreKey& dir, core::Result<std::vector<core::EntryInfo>> entries,
                bool listed, std::int64_t listed_at_ns = 0);
  void read_ahead();
  /// Fills a batch as far as prepared directories allow; delivers it when full, at the
  /// end, or when the walk must wait and the batch is not empty.
  void produce();
  void deliver(core::Result<std::vector<core::EntryInfo>> batch);

  core::StorePtr store_;
  std::shared_ptr<TargetListingCache> previous_;
  std::shared_ptr<TargetListingCache> fresh_;
  std::size_t batch_size_;
  std::vector<Level> levels_;
  std::map<std::string, Prepared> prepared_;
  std::optional<core::StoreKey> awaiting_;  ///< a directory entry emitted, its level not pushed
  std::optional<core::Callback<std::vector<core::EntryInfo>>> pending_;
  std::vector<core::EntryInfo> batch_;
  std::unordered_set<std::string> recorded_dirs_;  ///< directories served from a record
  Counts counts_;
  std::optional<core::StoreError> failure_;  ///< final: later next() calls fail the same way
  bool opening_ = false;                     ///< the top directory is not prepared yet
  bool producing_ = false;                   ///< inside produce(): no re-entry
  bool cancelled_ = false;
};

}  // namespace tetherd::daemon
