#include "tetherd/engine/live_delete_guard.hpp"

#include <algorithm>

namespace tetherd::daemon {

LiveDeleteGuard::Verdict LiveDeleteGuard::admit(TimePoint now, std::uint64_t entries,
                                                std::uint64_t mirrored) {
  if (!active()) return Verdict{};
  while (!recent_.empty() && now - recent_.front().first > window_) {
    recent_total_ -= recent_.front().second;
    recent_.pop_front();
  }
  Verdict verdict;
  verdict.would_delete = recent_total_ + entries;
  verdict.of_about = std::max<std::uint64_t>(1, mirrored + recent_total_);
  verdict.percent =
      100.0 * static_cast<double>(verdict.would_delete) / static_cast<double>(verdict.of_about);
  verdict.allowed = verdict.percent <= static_cast<double>(max_percent_);
  if (verdict.allowed) {
    recent_.emplace_back(now, entries);
    recent_total_ += entries;
  }
  return verdict;
}

}  // namespace tetherd::daemon
