#pragma once

// TargetListingCache: what each directory of a rule's target held when the engine last
// listed it, with the directory's own mtime at that moment. It lets a restart skip the
// per-entry stats of the target (half of a no-op reconciliation's work): a directory whose
// mtime is still the recorded one has the same names as recorded, so its recorded entries
// stand in for a listing (CachedTargetStream).
//
// What it trusts, and what keeps that safe:
// - Names. Creating, removing or renaming an entry changes its directory's mtime, and the
//   engine stats every directory before using its record. A record is made only when the
//   directory's mtime is older than the listing by kRacyWindow, so a change in the same
//   clock tick as the listing cannot hide behind an equal mtime (git's "racy" rule).
// - Entries' attributes. In-place changes (chmod, utimes, a write into an open file) do not
//   touch the directory's mtime, so every action the engine takes drops the records of the
//   directories it touches (invalidate) as it starts and again as it ends (a listing
//   taken while it was in flight may predate its effect), and a file left behind by a
//   crash is never read:
//   load() deletes the file before returning what it held, and only a clean stop saves.
//   What is not covered: someone else editing a target file in place, which the engine
//   never assumes (the target belongs to the rule; see README).
// Loop thread only.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/result.hpp"
#include "tetherd/core/store.hpp"

namespace tetherd::daemon {

class TargetListingCache {
 public:
  /// A directory's mtime must be at least this much older than its listing to be recorded,
  /// unless set_target_clock() says how the target stamps its mtimes.
  static constexpr std::int64_t kRacyWindowNs = 1'000'000'000;

  /// One entry of a recorded directory: an EntryInfo without the full key.
  struct Entry {
    std::string name;
    core::EntryType type = core::EntryType::File;
    std::uint64_t size = 0;
    std::optional<std::int64_t> mtime_ns;
    std::optional<std::uint32_t> mode;
    std::optional<std::string> link_target;
    bool operator==(const Entry&) const = default;
  };
  struct Directory {
    std::int64_t mtime_ns = 0;
    std::vector<Entry> entries;  ///< in StoreKey order, as the store listed them
  };

  /// Reads a cache saved by save() for the same `context` (rule, source and target; a
  /// mismatch gives an empty cache). The file is first renamed to `file`.in-use, durably,
  /// so a crash after this point never lets it be trusted (a later load removes the
  /// leftover). A missing file is an empty cache; a torn or corrupt one is an error (the
  /// caller logs it and walks without a cache).
  static core::Result<TargetListingCache> load(const std::string& file, std::string_view context);
  /// Writes the cache atomically and durably (temporary file, fsync, rename, fsync of the
  /// directory, which is created when missing), and drops the in-use file.
  core::Result<void> save(const std::string& file, std::string_view context) const;
  /// Puts the in-use file back unchanged: for a run whose cache ended as it was loaded
  /// (a no-op restart), instead of writing it again.
  static core::Result<void> restore(const std::string& file);

  /// Sets the racy window from how the target stamps mtimes: `skew`, how far a change's
  /// mtime may trail the wall clock (a tick on a local file system, a second assumed for a
  /// remote one), plus `precision`, their granularity (a change a second after the listing
  /// can keep the same mtime where they are whole seconds, two on FAT). nullopt precision
  /// (the target does not keep the mtimes it is given): nothing is recorded.
  void set_target_clock(std::optional<std::chrono::nanoseconds> precision,
                        std::chrono::nanoseconds skew) noexcept;

  /// Whether the listing of a directory with `mtime_ns`, started at wall-clock
  /// `listed_at_ns`, may be recorded: its mtime is older than the listing by more than the
  /// racy window.
  bool recordable(std::int64_t mtime_ns, std::int64_t listed_at_ns) const noexcept {
    return records_allowed_ && mtime_ns < listed_at_ns - racy_window_ns_;
  }

  /// Removes and returns the record of `dir` ("" = the rule's target root).
  std::optional<Directory> take(const std::string& dir);
  /// Records `dir` unless an invalidation happened since `invalidations_before` (a change
  /// the listing may have missed).
  void record(const std::string& dir, Directory directory, std::uint64_t invalidations_before);
  /// The engine is about to change entries of `dir`: forget its record.
  void invalidate(const std::string& dir);
  /// ... of `dir` and of every directory beneath it.
  void invalidate_subtree(const std::string& dir);
  std::uint64_t invalidations() const noexcept { return invalidations_; }

  std::size_t directories() const noexcept { return directories_.size(); }
  bool empty() const noexcept { return directories_.empty(); }
  const std::map<std::string, Directory>& contents() const noexcept { return directories_; }

  /// Entry <-> EntryInfo under directory key `dir`.
  static Entry entry_of(const core::EntryInfo& info);
  static core::EntryInfo info_of(const core::StoreKey& dir, const Entry& entry);

 private:
  std::map<std::string, Directory> directories_;
  std::uint64_t invalidations_ = 0;
  std::int64_t racy_window_ns_ = kRacyWindowNs;
  bool records_allowed_ = true;
};

/// The wall clock in ns since the epoch: what directory mtimes are compared with.
std::int64_t wall_clock_ns() noexcept;

/// Where a rule's cache lives: `state_dir`/listing-<hash of context>.bin.
std::string listing_cache_file(const std::string& state_dir, std::string_view context);
/// The directory for tetherd's state: $STATE_DIRECTORY (systemd's StateDirectory=), else
/// $XDG_STATE_HOME/tetherd, else $HOME/.local/state/tetherd; empty when none is known.
std::string default_state_directory();

}  // namespace tetherd::daemon
