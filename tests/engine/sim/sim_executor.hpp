#pragma once

// SimExecutor: a deterministic Executor for simulation tests. Nothing runs on another
// thread: "blocking" jobs wait in a pool until the simulation picks one, runs its work and
// queues its completion; completions then arrive in an order the seed chooses, as a thread
// pool's do. Posted tasks run in order (as libuv runs them). Time is virtual: it moves a
// little with every step, and jumps to the next timer when nothing else can run (or, now
// and then, while jobs are still "running", as a slow worker lets timers fire first).
// Everything is decided by one seeded generator, so a seed replays exactly.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "tetherd/core/store.hpp"

namespace tetherd::sim {

class SimExecutor final : public core::Executor {
 public:
  using Clock = std::chrono::steady_clock;
  struct Job {
    Task work;
    Task done;
  };

  explicit SimExecutor(std::mt19937_64& random) : random_(random) {}

  void post(Task task) override { posted_.push_back(std::move(task)); }
  void run_blocking(Task work, Task done) override {
    pool_.push_back({std::move(work), std::move(done)});
  }
  void run_blocking_dedicated(Task work, Task done) override {
    dedicated_.push_back({std::move(work), std::move(done)});
  }
  TimerId start_timer(std::chrono::milliseconds delay, Task task) override {
    const TimerId id = ++last_timer_;
    timers_.emplace(std::make_pair(now_ + delay, id), std::move(task));
    return id;
  }
  void cancel_timer(TimerId timer) override {
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->first.second == timer) {
        timers_.erase(it);
        return;
      }
    }
  }
  Clock::time_point now() const override { return now_; }

  /// Whether anything but timers waits (the loop would not sleep).
  bool busy() const noexcept {
    return !posted_.empty() || !pool_.empty() || !dedicated_.empty() || !completions_.empty();
  }
  bool has_timers() const noexcept { return !timers_.empty(); }

  /// Runs one thing that is ready, chosen by the seed; when nothing is, moves time to the
  /// next timer and fires it. False when there is nothing at all left to do.
  bool step() {
    now_ += std::chrono::microseconds(pick(50));
    const bool timer_due = !timers_.empty() && timers_.begin()->first.first <= now_;
    if (!timers_.empty() &&
        (!busy() || (timer_due && pick(2) == 0) || (!pool_.empty() && pick(20) == 0))) {
      fire_next_timer();
      return true;
    }
    if (!busy()) return false;
    // Choose among the kinds of ready work, then within the kind where order is free.
    std::vector<int> kinds;
    if (!posted_.empty()) kinds.push_back(0);
    if (!pool_.empty()) kinds.push_back(1);
    if (!dedicated_.empty()) kinds.push_back(2);
    if (!completions_.empty()) kinds.push_back(3);
    switch (kinds[pick(kinds.size())]) {
      case 0: {
        Task task = std::move(posted_.front());
        posted_.pop_front();
        task();
        break;
      }
      case 1: {
        const std::size_t index = pick(pool_.size());
        Job job = std::move(pool_[index]);
        pool_.erase(pool_.begin() + static_cast<std::ptrdiff_t>(index));
        job.work();
        completions_.push_back(std::move(job.done));
        break;
      }
      case 2: {
        Job job = std::move(dedicated_.front());
        dedicated_.pop_front();
        job.work();
        completions_.push_back(std::move(job.done));
        break;
      }
      default: {
        const std::size_t index = pick(completions_.size());
        Task done = std::move(completions_[index]);
        completions_.erase(completions_.begin() + static_cast<std::ptrdiff_t>(index));
        done();
        break;
      }
    }
    return true;
  }

  /// Moves time on by `by` (timers that fall due then run at the next steps).
  void advance(std::chrono::microseconds by) { now_ += by; }

  /// A simulated crash: everything queued is set aside unrun (the process is gone). The
  /// simulation hands it back with thaw() once its checks are done, only so that the
  /// operations complete and free what they hold (a store operation and its cancel hook
  /// refer to each other until it completes).
  struct Frozen {
    std::deque<Task> posted;
    std::vector<Job> pool;
    std::deque<Job> dedicated;
    std::vector<Task> completions;
    std::vector<Task> timers;
  };
  Frozen freeze() {
    Frozen frozen{
        std::move(posted_), std::move(pool_), std::move(dedicated_), std::move(completions_), {}};
    for (auto& [when, task] : timers_)
      frozen.timers.push_back(std::move(task));
    posted_.clear();
    pool_.clear();
    dedicated_.clear();
    completions_.clear();
    timers_.clear();
    return frozen;
  }
  void thaw(Frozen frozen) {
    for (auto& task : frozen.posted)
      posted_.push_back(std::move(task));
    for (auto& job : frozen.pool)
      pool_.push_back(std::move(job));
    for (auto& job : frozen.dedicated)
      dedicated_.push_back(std::move(job));
    for (auto& task : frozen.completions)
      completions_.push_back(std::move(task));
    for (auto& task : frozen.timers)
      posted_.push_back(std::move(task));
  }

  std::size_t pick(std::size_t bound) {
    return static_cast<std::size_t>(
        std::uniform_int_distribution<std::uint64_t>(0, bound - 1)(random_));
  }

 private:
  void fire_next_timer() {
    auto first = timers_.begin();
    if (first->first.first > now_) now_ = first->first.first;
    Task task = std::move(first->second);
    timers_.erase(first);
    task();
  }

  std::mt19937_64& random_;
  Clock::time_point now_{std::chrono::hours(1)};
  std::deque<Task> posted_;
  std::vector<Job> pool_;
  std::deque<Job> dedicated_;
  std::vector<Task> completions_;
  std::map<std::pair<Clock::time_point, TimerId>, Task> timers_;
  TimerId last_timer_ = 0;
};

}  // namespace tetherd::sim
