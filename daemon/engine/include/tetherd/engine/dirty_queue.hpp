// DirtyQueue: a rule's pending work, at most one entry per path, and the order it is taken
// in.
//
// An entry is due now (in the ready queue, taken in order) or later (in the schedule, by
// time). A ready path that overlaps work in flight waits parked behind that busy path and
// goes back to the front of the queue when it is released, so taking the next path never
// walks a queue of blocked ones (a cold sync queues thousands of files behind their
// directories' mkdirs). The queues may name a path more than once, or a path no longer
// pending: the map is the truth, and the queues are consulted against it.

#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tetherd/engine/planner.hpp"
#include "tetherd/engine/source_hint_fences.hpp"
#include "tetherd/engine/string_map.hpp"

namespace tetherd::daemon {

/// Where a pending change comes from: deletes are allowed or not by it (delete_mode).
enum class ChangeOrigin { live, startup_scan, running_scan, resume_scan };

/// One path's pending work.
struct DirtyEntry {
  using Clock = std::chrono::steady_clock;
  std::uint64_t seq = 0;  ///< oldest change this entry stands for (settle)
  Clock::time_point due{};
  ChangeOrigin origin = ChangeOrigin::live;
  bool rescan = false;  ///< reconcile the whole subtree
  /// A writer may have the file open: it is copied once closed, or at close_deadline:
  /// kQuietWhileOpen after its last write, at most kMaxWaitForClose after the first (a
  /// log or database held open for ever); shortly after a creation that no write
  /// followed (a link, a node, an open never written).
  bool awaiting_close = false;
  bool written = false;  ///< a write was seen since it was created or last closed
  /// The watcher reported a write: a racy copy (Mirrored::racy) is not trusted.
  bool content_changed = false;
  Clock::time_point writing_since{};  ///< the first of those writes
  Clock::time_point close_deadline{};
  std::optional<std::string> moved_from;
  /// What a reconciliation listing just saw on the target (target_known: nullopt means
  /// "nothing there"). Any later change to the path forgets it.
  bool target_known = false;
  std::optional<TargetState> known_target;
  /// What that listing saw in the source, when it saw the path there and no live change
  /// was pending on it: a plain copy planned from it needs no second stat (see
  /// MirrorRule::examine_with_source), while the rule's source fences hold it valid at its
  /// stamp. Absence is never taken from a listing.
  std::optional<SourceEntry> known_source;
  SourceHintFences::Generation known_source_stamp = 0;
  bool created_directory = false;
  /// This entry's examination already waited once for the watcher's unpaired renames.
  bool awaited_renames = false;
  unsigned attempts = 0;
};

class DirtyQueue {
 public:
  using Clock = DirtyEntry::Clock;
  /// Pending work by path. Unordered: every path taken is looked up and erased, and an
  /// ordered map compared long shared prefixes at each step (several percent of the loop
  /// thread in a cold sync); the rare walk over a range (a directory renamed with work
  /// pending inside) scans it all instead.
  using Entries = StringMap<DirtyEntry>;

  /// The entry of `path`, made (default) when there is none; second: whether it was made.
  std::pair<DirtyEntry&, bool> entry(const std::string& path);
  DirtyEntry* find(std::string_view path);
  const DirtyEntry* find(std::string_view path) const;
  bool contains(std::string_view path) const { return find(path) != nullptr; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  Entries& entries() noexcept { return entries_; }
  const Entries& entries() const noexcept { return entries_; }

  /// Queues `path` (whose entry is due at `due`) to be taken once due.
  void enqueue(const std::string& path, Clock::time_point due, Clock::time_point now);
  /// Removes every entry (and everything queued).
  void clear();
  /// Removes and returns the entries strictly within `dir` ("dir/..."), keyed by path.
  std::vector<std::pair<std::string, DirtyEntry>> extract_within(const std::string& dir);

  /// Whether something is due now, and else when the earliest scheduled entry is due.
  bool has_ready() const noexcept { return !ready_.empty(); }
  std::optional<Clock::time_point> earliest_scheduled() const;
  bool idle() const noexcept { return ready_.empty() && schedule_.empty(); }

  /// Moves what the schedule holds up to `now` into the ready queue.
  void promote_due(Clock::time_point now);
  /// The next ready path due by `now` that `blocker` (the busy path it overlaps, or null)
  /// lets go, with its entry, taken out of the queue; the ones it does not are parked
  /// behind their busy path. Nothing when the ready queue runs out.
  std::optional<std::pair<std::string, DirtyEntry>> take_ready(
      Clock::time_point now,
      const std::function<const std::string*(const std::string& path, const DirtyEntry&)>& blocker);
  /// `freed` is no longer busy: the paths parked behind it go back to the front, in order.
  void wake(const std::string& freed);
  /// Drops repeated names from the ready queue once they pile up (a path marked again
  /// while it waits is queued again).
  void compact();

 private:
  Entries entries_;
  std::multimap<Clock::time_point, std::string> schedule_;
  std::deque<std::string> ready_;
  /// Ready paths that overlapped a busy path, by that busy path.
  StringMap<std::vector<std::string>> parked_;
};

}  // namespace tetherd::daemon
