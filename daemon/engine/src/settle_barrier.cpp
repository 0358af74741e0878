#include "tetherd/engine/settle_barrier.hpp"

#include <algorithm>
#include <utility>

namespace tetherd::daemon {

void SettleBarrier::add(std::string cookie, std::uint64_t errors_before, Done done) {
  Waiter waiter;
  waiter.cookie = std::move(cookie);
  waiter.errors_before = errors_before;
  waiter.done = std::move(done);
  waiters_.push_back(std::move(waiter));
}

SettleBarrier::Waiter* SettleBarrier::find(std::string_view cookie) {
  auto it = std::find_if(waiters_.begin(), waiters_.end(),
                         [cookie](const Waiter& waiter) { return waiter.cookie == cookie; });
  return it == waiters_.end() ? nullptr : &*it;
}

bool SettleBarrier::cookie_seen(std::string_view name) {
  Waiter* waiter = find(name);
  if (!waiter || waiter->threshold || waiter->cookie_seen) return false;
  waiter->cookie_seen = true;
  return true;
}

void SettleBarrier::take_threshold(Waiter& waiter, Seq next_seq) {
  if (waiter.cookie_delivered && waiter.watcher_synced && !waiter.threshold) {
    waiter.threshold = next_seq;
  }
}

void SettleBarrier::cookie_delivered(std::string_view cookie, Seq next_seq) {
  if (Waiter* waiter = find(cookie)) {
    waiter->cookie_delivered = true;
    take_threshold(*waiter, next_seq);
  }
}

void SettleBarrier::watcher_synced(std::string_view cookie, Seq next_seq) {
  if (Waiter* waiter = find(cookie)) {
    waiter->watcher_synced = true;
    take_threshold(*waiter, next_seq);
  }
}

template <typename Pick>
void SettleBarrier::answer_where(Pick&& answerable,
                                 const std::function<SettleOutcome(const Waiter&)>& outcome) {
  std::vector<std::pair<Done, SettleOutcome>> answers;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (answerable(*it)) {
      answers.emplace_back(std::move(it->done), outcome(*it));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [done, result] : answers)
    done(std::move(result));
}

void SettleBarrier::answer(std::string_view cookie, SettleOutcome outcome) {
  answer_where([cookie](const Waiter& waiter) { return waiter.cookie == cookie; },
               [&outcome](const Waiter&) { return outcome; });
}

void SettleBarrier::answer_all(const SettleOutcome& outcome) {
  answer_where([](const Waiter&) { return true; }, [&outcome](const Waiter&) { return outcome; });
}

void SettleBarrier::answer_reached(Seq oldest_outstanding,
                                   const std::function<SettleOutcome(std::uint64_t)>& judge) {
  answer_where(
      [oldest_outstanding](const Waiter& waiter) {
        return waiter.threshold && oldest_outstanding >= *waiter.threshold;
      },
      [&judge](const Waiter& waiter) { return judge(waiter.errors_before); });
}

}  // namespace tetherd::daemon
