#pragma once

// Reconciler: walks one subtree of the source and of the target side by side, in the
// order both list in (depth first, names sorted bytewise: StoreKey order), streaming,
// and reports every path where they differ. It never acts itself: differences go to the
// rule, which re-stats and plans each path exactly as for a live change, so a rescan
// (initial sync, overflow, resumed rule) and live mirroring cannot disagree.
//
// Memory is bounded: the source side holds one listing per directory level of the
// current path, the target side one batch; the consumer applies back-pressure by
// returning false from `on_difference` and calling resume() later. Deletions (paths only
// on the target) are collected and reported at the end, with the counts the mass-delete
// guard needs, because the guard can only judge a whole batch.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tetherd/core/path_filter.hpp"
#include "tetherd/core/store.hpp"
#include "tetherd/engine/planner.hpp"
#include "tetherd/engine/source_tree.hpp"
#include "tetherd/engine/target_listing_cache.hpp"

namespace tetherd::daemon {

class CachedTargetStream;
class RecordingTargetStream;

struct ReconcileSummary {
  std::uint64_t source_entries = 0;  ///< entries walked in the source (included ones)
  std::uint64_t target_entries = 0;  ///< entries listed on the target (included ones)
  std::uint64_t differences = 0;     ///< paths reported to on_difference
  /// Paths only on the target (tops of subtrees), to delete if the rule allows, with what
  /// the target listed there (nullopt: known from a listing cache record; stat it first).
  std::vector<std::pair<std::string, std::optional<TargetState>>> deletions;
  std::uint64_t deleted_entries = 0;  ///< entries the deletions remove, subtrees included
  /// With a listing cache: target directories listed, and those confirmed from a record.
  std::uint64_t target_dirs_listed = 0;
  std::uint64_t target_dirs_confirmed = 0;
  /// Source directories below the walked one that could not be listed (permissions, a
  /// path too long, I/O errors), with why. The walk went on around them; what the target
  /// holds inside them is left alone (never a deletion) and uncounted.
  std::vector<std::pair<std::string, core::StoreError>> unreadable;
};

/// A listing cache for the target side of a walk (see TargetListingCache): `previous` is
/// consulted (and consumed), `fresh` receives what this walk lists or confirms.
struct TargetListingCaches {
  std::shared_ptr<TargetListingCache> previous;
  std::shared_ptr<TargetListingCache> fresh;
};

struct ReconcilerCallbacks {
  /// A path to examine (create, update, replace). `target` is what the target listed, or
  /// nullopt when it has nothing there; `target_listed` is false when that comes from a
  /// listing cache record rather than a listing just made (stat before acting on it).
  /// Return false to pause the walk until resume().
  std::function<bool(const SourceEntry& source, std::optional<TargetState> target,
                     bool target_listed)>
      on_difference;
  /// Source and target agree at this path (feeds the mirror index).
  std::function<void(const SourceEntry& source, const TargetState& target)> on_unchanged;
  /// The walk ended: the summary, or the error that stopped it (source or target).
  std::function<void(core::Result<ReconcileSummary> outcome)> on_finished;
};

class Reconciler : public std::enable_shared_from_this<Reconciler> {
 public:
  /// `subtree`: relative path of the directory to reconcile ("" = the whole rule).
  /// `hidden`: names at the source root that are never mirrored (settle cookies).
  Reconciler(core::Executor& executor, std::shared_ptr<const SourceTree> source,
             core::StorePtr target, std::shared_ptr<const core::PathFilter> filter,
             MirrorPolicy policy, std::string subtree, ReconcilerCallbacks callbacks,
             std::optional<TargetListingCaches> caches = std::nullopt);

  void start();
  /// Continues a walk paused by on_difference returning false.
  void resume();
  /// Stops the walk; on_finished is called with Cancelled.
  void cancel();
  const std::string& subtree() const noexcept { return subtree_; }
  /// Counts so far (for progress reports while the walk runs).
  const ReconcileSummary& progress() const noexcept { return summary_; }

 private:
  struct Frame {
    std::vector<SourceEntry> entries;
    std::size_t next = 0;
    std::size_t prefetch_next = 0;  ///< entries before it were considered for read-ahead
    std::size_t read_ahead = 0;     ///< its subdirectories listed ahead, not yet entered
  };
  /// A source directory listed ahead of the walk (read-ahead), or being listed.
  struct Listing {
    bool ready = false;
    bool ahead = false;  ///< requested by read_ahead() for the deepest frame of that time
    core::Result<std::vector<SourceEntry>> result = core::StoreError::make(core::Errc::IoError);
  };

  void step();
  void fetch_source();
  /// Lists `dir` on a worker into listings_ (a no-op if it is listed or being listed).
  void request_listing(const std::string& dir);
  /// Lists `dirs` (none listed or being listed) in one worker job, in this order; `ahead`:
  /// for read_ahead() (counted in the budget of the deepest frame).
  void request_listings(std::vector<std::string> dirs, bool ahead);
  /// Continues the walk with the listing of `dir`, which is ready.
  void descend_into(const std::string& dir);
  /// Starts listing the next directories the walk will enter, up to kReadAhead of them,
  /// so source listings, target batches and the rule's actions overlap on the workers.
  void read_ahead();
  /// Makes the next target batch current once the current one is consumed (and asks for
  /// the one after it).
  void advance_target();
  /// Keeps one target batch requested ahead of the one being consumed.
  void request_target_batch();
  void on_target_batch(core::Result<std::vector<core::EntryInfo>> batch);
  void finish(core::Result<ReconcileSummary> outcome);
  bool included(const std::string& path, bool is_dir) const;
  /// Skips the target's entries within `top`; `deleted`: they go with a deletion of top
  /// (counted), else they are left alone (below a source directory that cannot be read).
  void skip_target_subtree(const core::StoreKey& top, bool deleted = true);
  void handle_source_only(const SourceEntry& source, const core::StoreKey& key);
  void handle_target_only(const core::EntryInfo& target);
  void handle_both(const SourceEntry& source, const core::EntryInfo& target);
  void descend_after(const SourceEntry& source);

  core::Executor& executor_;
  std::shared_ptr<const SourceTree> source_;
  core::StorePtr target_;
  std::shared_ptr<const core::PathFilter> filter_;  // shared: jobs in flight may outlive the rule
  MirrorPolicy policy_;
  std::string subtree_;
  ReconcilerCallbacks callbacks_;
  std::optional<TargetListingCaches> caches_;
  /// The target stream, with caches_: one with records to confirm, or one recording only.
  std::shared_ptr<CachedTargetStream> cached_stream_;
  std::shared_ptr<RecordingTargetStream> recording_stream_;
  /// Whether the target's entry at `key` was just listed (not taken from a record).
  bool listed(const core::StoreKey& key) const;

  std::vector<Frame> frames_;
  std::optional<SourceEntry> source_head_;
  std::optional<core::StoreKey> source_head_key_;
  bool source_done_ = false;
  bool source_busy_ = false;
  std::optional<SourceEntry> pending_descend_;   ///< a directory whose listing is next
  std::map<std::string, Listing> listings_;      ///< read-ahead, by directory path
  std::optional<std::string> awaiting_listing_;  ///< the walk waits for this listing

  core::EntryStreamPtr target_stream_;
  std::vector<core::EntryInfo> target_batch_;
  std::size_t target_next_ = 0;
  /// The batch after target_batch_, fetched while the current one is consumed; an empty
  /// batch marks the end.
  std::optional<std::vector<core::EntryInfo>> target_ahead_;
  bool target_done_ = false;
  bool target_busy_ = false;
  std::optional<core::StoreKey> skip_under_;  ///< target entries within it are skipped
  bool skipped_are_deleted_ = true;           ///< and counted as deleted with it

  ReconcileSummary summary_;
  bool paused_ = false;
  bool stepping_ = false;
  bool finished_ = false;
  bool started_ = false;
};

}  // namespace tetherd::daemon
