#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "tetherd/core/store.hpp"  // Executor

namespace tetherd::core {

/// The size of part `index` when `count` items are cut into `parts` parts (0 < parts ≤
/// count) as evenly as they go: the first count % parts parts take one item more.
inline std::size_t even_share(std::size_t count, std::size_t parts, std::size_t index) {
  return count / parts + (index < count % parts ? 1 : 0);
}

/// Runs blocking jobs submitted during one loop turn in shared worker trips. A burst of
/// small operations (the writes of an initial sync: a thousand issued at once) would cost
/// a worker trip each: a queue lock, a wake-up and a completion callback per file, paid
/// on the loop thread, which is what limits such a burst. Here the jobs submitted in one
/// turn are cut into at most `jobs_per_trip` per trip, but into at least `min_trips` trips
/// when there are that many jobs, so the worker threads still share them. Jobs of a trip
/// run in submission order on one worker and share one `Scratch` (what consecutive jobs
/// can reuse, such as an open directory); each job's completion runs on the loop thread
/// once its trip has finished. A job submitted alone starts on the next loop turn: its
/// latency grows by one turn, no more. Loop thread only.
template <typename Scratch>
class SharedTrips : public std::enable_shared_from_this<SharedTrips<Scratch>> {
 public:
  using Work = std::function<void(Scratch&)>;

  SharedTrips(Executor& executor, std::size_t jobs_per_trip, std::size_t min_trips)
      : executor_(executor),
        jobs_per_trip_(std::max<std::size_t>(jobs_per_trip, 1)),
        min_trips_(std::max<std::size_t>(min_trips, 1)) {}

  /// Like Executor::run_blocking: `work` on a worker thread (with its trip's scratch),
  /// then `done` on the loop thread.
  void submit(Work work, Executor::Task done) {
    pending_.push_back(Job{std::move(work), std::move(done)});
    if (posted_) return;
    posted_ = true;
    std::weak_ptr<SharedTrips> weak = this->weak_from_this();
    executor_.post([weak] {
      if (auto self = weak.lock()) self->start_trips();
    });
  }

 private:
  struct Job {
    Work work;
    Executor::Task done;
  };

  void start_trips() {
    posted_ = false;
    std::vector<Job> jobs;
    jobs.swap(pending_);
    pending_.reserve(jobs.size());  // the next turn likely submits as many
    const std::size_t count = jobs.size();
    const std::size_t trips =
        std::min(count, std::max(min_trips_, (count + jobs_per_trip_ - 1) / jobs_per_trip_));
    std::size_t begin = 0;
    for (std::size_t trip = 0; trip < trips; ++trip) {
      const std::size_t size = even_share(count, trips, trip);
      auto batch = std::make_shared<std::vector<Job>>();
      batch->reserve(size);
      for (std::size_t i = begin; i < begin + size; ++i)
        batch->push_back(std::move(jobs[i]));
      begin += size;
      executor_.run_blocking(
          [batch] {
            Scratch scratch;
            for (auto& job : *batch)
              job.work(scratch);
          },
          [batch] {
            for (auto& job : *batch)
              job.done();
          });
    }
  }

  Executor& executor_;
  std::size_t jobs_per_trip_;
  std::size_t min_trips_;
  std::vector<Job> pending_;
  bool posted_ = false;
};

}  // namespace tetherd::core
