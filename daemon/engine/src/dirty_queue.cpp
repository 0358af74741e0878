#include "tetherd/engine/dirty_queue.hpp"

#include <set>

namespace tetherd::daemon {

std::pair<DirtyEntry&, bool> DirtyQueue::entry(const std::string& path) {
  auto [it, inserted] = entries_.try_emplace(path);
  return {it->second, inserted};
}

DirtyEntry* DirtyQueue::find(std::string_view path) {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

const DirtyEntry* DirtyQueue::find(std::string_view path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

void DirtyQueue::enqueue(const std::string& path, Clock::time_point due, Clock::time_point now) {
  // Due already (a walk's differences, most changes with delay 0): straight to the queue
  // that is taken from; the schedule is for what must wait.
  if (due <= now) {
    ready_.push_back(path);
  } else {
    schedule_.emplace(due, path);
  }
}

void DirtyQueue::clear() {
  entries_.clear();
  schedule_.clear();
  ready_.clear();
  parked_.clear();
}

std::vector<std::pair<std::string, DirtyEntry>> DirtyQueue::extract_within(const std::string& dir) {
  std::vector<std::pair<std::string, DirtyEntry>> taken;
  const std::string prefix = dir + "/";
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->first.starts_with(prefix)) {
      ++it;
      continue;
    }
    taken.emplace_back(it->first, std::move(it->second));
    it = entries_.erase(it);
  }
  return taken;
}

std::optional<DirtyQueue::Clock::time_point> DirtyQueue::earliest_scheduled() const {
  if (schedule_.empty()) return std::nullopt;
  return schedule_.begin()->first;
}

void DirtyQueue::promote_due(Clock::time_point now) {
  while (!schedule_.empty() && schedule_.begin()->first <= now) {
    std::string path = std::move(schedule_.begin()->second);
    schedule_.erase(schedule_.begin());
    auto it = entries_.find(path);
    if (it != entries_.end() && it->second.due <= now) ready_.push_back(std::move(path));
  }
}

std::optional<std::pair<std::string, DirtyEntry>> DirtyQueue::take_ready(
    Clock::time_point now,
    const std::function<const std::string*(const std::string&, const DirtyEntry&)>& blocker) {
  while (!ready_.empty()) {
    std::string path = std::move(ready_.front());
    ready_.pop_front();
    auto it = entries_.find(path);
    if (it == entries_.end() || it->second.due > now) continue;  // done, or pushed back
    if (const std::string* busy = blocker(path, it->second)) {
      // Waits for that path's release (wake() puts it back in front), not in ready_.
      auto parked = parked_.find(*busy);
      if (parked == parked_.end())
        parked = parked_.emplace(*busy, std::vector<std::string>()).first;
      // A path marked again while it waits (a file still being written) is parked once.
      if (parked->second.empty() || parked->second.back() != path) {
        parked->second.push_back(std::move(path));
      }
      continue;
    }
    DirtyEntry entry = std::move(it->second);
    entries_.erase(it);
    return std::make_pair(std::move(path), std::move(entry));
  }
  return std::nullopt;
}

void DirtyQueue::wake(const std::string& freed) {
  auto parked = parked_.find(freed);
  if (parked == parked_.end()) return;
  std::vector<std::string> waiting = std::move(parked->second);
  parked_.erase(parked);
  for (auto again = waiting.rbegin(); again != waiting.rend(); ++again)
    ready_.push_front(std::move(*again));
}

void DirtyQueue::compact() {
  if (ready_.size() <= 2 * entries_.size() + 64) return;
  std::set<std::string> seen;
  std::deque<std::string> unique;
  for (auto& path : ready_) {
    if (seen.insert(path).second) unique.push_back(std::move(path));
  }
  ready_ = std::move(unique);
}

}  // namespace tetherd::daemon
