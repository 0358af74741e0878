// LiveDeleteGuard: the mass-delete guard for removals mirrored while watching.
//
// The entries deleted over a sliding window may not exceed max_delete_percent of the
// target as it was before them. The removal that would cross the limit is refused (the
// rule pauses instead), so at most that share is deleted before a person looks. Walks
// are guarded as a whole elsewhere (their deletions are counted before any is made).

#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>

namespace tetherd::daemon {

class LiveDeleteGuard {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  /// `max_percent` >= 100 turns the guard off.
  LiveDeleteGuard(int max_percent, std::chrono::steady_clock::duration window)
      : max_percent_(max_percent), window_(window) {}

  bool active() const noexcept { return max_percent_ < 100; }
  std::chrono::steady_clock::duration window() const noexcept { return window_; }

  struct Verdict {
    bool allowed = true;
    std::uint64_t would_delete = 0;  ///< this window's deletions with the new ones
    std::uint64_t of_about = 0;      ///< the target's entries before the window's deletions
    double percent = 0;
  };
  /// May `entries` more entries be deleted at `now`, with `mirrored` entries on the target
  /// now (this window's earlier deletions already gone from it)? An allowed deletion is
  /// counted in the window.
  Verdict admit(TimePoint now, std::uint64_t entries, std::uint64_t mirrored);

 private:
  int max_percent_;
  std::chrono::steady_clock::duration window_;
  std::deque<std::pair<TimePoint, std::uint64_t>> recent_;  ///< (when, entries)
  std::uint64_t recent_total_ = 0;
};

}  // namespace tetherd::daemon
