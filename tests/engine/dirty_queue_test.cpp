// DirtyQueue: one entry per path; due paths are taken in order, later ones when their time
// comes, and a path that overlaps busy work waits parked until that work is released.

#include "tetherd/engine/dirty_queue.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

namespace tetherd::daemon {
namespace {

using Clock = DirtyQueue::Clock;
using namespace std::chrono_literals;

void mark(DirtyQueue& queue, const std::string& path, Clock::time_point due,
          Clock::time_point now) {
  auto [entry, made] = queue.entry(path);
  entry.due = due;
  queue.enqueue(path, due, now);
}

std::vector<std::string> take_all(DirtyQueue& queue, Clock::time_point now,
                                  const std::set<std::string>& busy = {}) {
  std::vector<std::string> taken;
  const auto blocker = [&busy](const std::string& path, const DirtyEntry&) -> const std::string* {
    for (const auto& held : busy) {
      if (path == held || path.starts_with(held + "/")) return &held;
    }
    return nullptr;
  };
  while (auto next = queue.take_ready(now, blocker))
    taken.push_back(next->first);
  return taken;
}

TEST_CASE("due paths are taken in the order they were marked, once each") {
  DirtyQueue queue;
  const Clock::time_point now{};
  mark(queue, "b", now, now);
  mark(queue, "a", now, now);
  mark(queue, "b", now, now);  // marked again: still one entry
  CHECK(queue.size() == 2);
  CHECK(take_all(queue, now) == std::vector<std::string>{"b", "a"});
  CHECK(queue.empty());
}

TEST_CASE("a later path waits in the schedule until its time") {
  DirtyQueue queue;
  const Clock::time_point now{};
  mark(queue, "later", now + 100ms, now);
  CHECK_FALSE(queue.has_ready());
  CHECK(queue.earliest_scheduled() == now + 100ms);
  queue.promote_due(now + 50ms);
  CHECK(take_all(queue, now + 50ms).empty());
  queue.promote_due(now + 100ms);
  CHECK(take_all(queue, now + 100ms) == std::vector<std::string>{"later"});
  CHECK(queue.idle());
}

TEST_CASE("a path that overlaps busy work is parked, and first again once it is freed") {
  DirtyQueue queue;
  const Clock::time_point now{};
  mark(queue, "dir/file", now, now);
  mark(queue, "other", now, now);
  CHECK(take_all(queue, now, {"dir"}) == std::vector<std::string>{"other"});
  CHECK(queue.size() == 1);  // still pending, parked behind "dir"
  mark(queue, "third", now, now);
  queue.wake("dir");
  CHECK(take_all(queue, now) == std::vector<std::string>{"dir/file", "third"});
}

TEST_CASE("the entries within a directory can be taken out to follow its rename") {
  DirtyQueue queue;
  const Clock::time_point now{};
  for (const char* path : {"d", "d/x", "d/y/z", "dx"})
    mark(queue, path, now, now);
  auto moved = queue.extract_within("d");
  std::set<std::string> paths;
  for (const auto& [path, entry] : moved)
    paths.insert(path);
  CHECK(paths == std::set<std::string>{"d/x", "d/y/z"});
  CHECK(queue.size() == 2);
  CHECK(take_all(queue, now) == std::vector<std::string>{"d", "dx"});  // stale names skipped
}

}  // namespace
}  // namespace tetherd::daemon
