#include "store_retries.hpp"

#include <algorithm>

namespace tetherd::daemon {

StoreRetries::StoreRetries(core::Executor& executor, Open open, Answer answer, Pauses pauses)
    : executor_(executor), open_(std::move(open)), answer_(std::move(answer)), pauses_(pauses) {}

StoreRetries::~StoreRetries() {
  clear();
}

std::chrono::milliseconds StoreRetries::retry(const std::string& key,
                                              const config::StoreConfig& config) {
  auto [it, added] = entries_.try_emplace(key);
  Entry& entry = it->second;
  if (!added && (entry.timer || entry.in_flight)) return entry.pause;
  if (added) {
    entry.config = config;
    entry.delay = pauses_.first;
  }
  entry.pause = entry.delay;
  entry.delay = std::min(entry.delay * 2, pauses_.longest);
  entry.timer = executor_.start_timer(entry.pause, [this, key] { attempt(key); });
  return entry.pause;
}

void StoreRetries::attempt(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& entry = it->second;
  entry.timer.reset();
  entry.in_flight = true;
  const std::uint64_t attempt = entry.attempt = ++attempts_;
  std::weak_ptr<StoreRetries*> weak = self_;
  open_(entry.config, [weak, key, attempt](core::Result<core::StorePtr> store) {
    auto self = weak.lock();
    if (!self || !(*self)->answered(key, attempt, store)) {
      // Forgotten meanwhile, or the daemon is gone: nobody waits for this store.
      if (store) (*store)->close([kept = *store](core::Result<void>) {});
    }
  });
}

bool StoreRetries::answered(const std::string& key, std::uint64_t attempt,
                            core::Result<core::StorePtr>& store) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.attempt != attempt) return false;
  it->second.in_flight = false;
  if (store) entries_.erase(it);
  answer_(key, std::move(store));
  return true;
}

void StoreRetries::forget(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.timer) executor_.cancel_timer(*it->second.timer);
  entries_.erase(it);
}

void StoreRetries::clear() {
  while (!entries_.empty())
    forget(entries_.begin()->first);
}

}  // namespace tetherd::daemon
