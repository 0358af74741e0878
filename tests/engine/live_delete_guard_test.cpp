// LiveDeleteGuard: a sliding window of live deletions bounded by a share of the target.

#include "tetherd/engine/live_delete_guard.hpp"

#include <doctest/doctest.h>

namespace tetherd::daemon {
namespace {

using namespace std::chrono_literals;

TEST_CASE("at 100 percent the guard is off") {
  LiveDeleteGuard guard(100, 60s);
  CHECK_FALSE(guard.active());
  CHECK(guard.admit({}, 1000, 1).allowed);
}

TEST_CASE("deletions within the window count against the target as it was before them") {
  LiveDeleteGuard guard(50, 60s);
  const LiveDeleteGuard::TimePoint start{};
  // 100 entries mirrored: 30 deleted (70 left), then 20 more: 50 of 100, allowed.
  CHECK(guard.admit(start, 30, 100).allowed);
  const auto second = guard.admit(start + 1s, 20, 70);
  CHECK(second.allowed);
  CHECK(second.would_delete == 50);
  CHECK(second.of_about == 100);
  // One more crosses 50%: refused, and not counted.
  const auto third = guard.admit(start + 2s, 1, 50);
  CHECK_FALSE(third.allowed);
  CHECK(third.would_delete == 51);
  CHECK(third.percent > 50.0);
  // Once the window has passed, the earlier deletions no longer count.
  CHECK(guard.admit(start + 62s, 1, 50).allowed);
}

TEST_CASE("an empty target counts as one entry") {
  LiveDeleteGuard guard(10, 60s);
  const auto verdict = guard.admit({}, 1, 0);
  CHECK(verdict.of_about == 1);
  CHECK_FALSE(verdict.allowed);
}

}  // namespace
}  // namespace tetherd::daemon
