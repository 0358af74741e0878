// SettleBarrier: a call takes its threshold once its cookie is delivered and the watcher
// has synced, and is answered once the oldest outstanding work has reached it.

#include "tetherd/engine/settle_barrier.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <vector>

namespace tetherd::daemon {
namespace {

SettleOutcome judged_ok(std::uint64_t) {
  return SettleOutcome{};
}

TEST_CASE("a call is answered only after both conditions and once the work before it is done") {
  SettleBarrier barrier;
  std::optional<SettleOutcome> answer;
  barrier.add("c1", 0, [&](SettleOutcome outcome) { answer = std::move(outcome); });
  barrier.answer_reached(1000, judged_ok);
  CHECK_FALSE(answer);  // no threshold yet
  CHECK(barrier.cookie_seen("c1"));
  CHECK_FALSE(barrier.cookie_seen("c1"));     // seen once
  CHECK_FALSE(barrier.cookie_seen("other"));  // not a waiting cookie
  barrier.cookie_delivered("c1", 10);
  barrier.answer_reached(1000, judged_ok);
  CHECK_FALSE(answer);               // the watcher has not synced
  barrier.watcher_synced("c1", 12);  // threshold 12
  barrier.answer_reached(11, judged_ok);
  CHECK_FALSE(answer);  // work with seq 11 is still outstanding
  barrier.answer_reached(12, judged_ok);
  REQUIRE(answer);
  CHECK(answer->ok);
  CHECK(barrier.empty());
}

TEST_CASE("the judge is given the error count at the call") {
  SettleBarrier barrier;
  std::optional<SettleOutcome> answer;
  barrier.add("c", 7, [&](SettleOutcome outcome) { answer = std::move(outcome); });
  barrier.watcher_synced("c", 3);
  barrier.cookie_delivered("c", 5);
  barrier.answer_reached(5, [](std::uint64_t errors_before) {
    return SettleOutcome{false, "before: " + std::to_string(errors_before)};
  });
  REQUIRE(answer);
  CHECK_FALSE(answer->ok);
  CHECK(answer->problem == "before: 7");
}

TEST_CASE("calls are answered one by one, or all at once, and a callback may call again") {
  SettleBarrier barrier;
  std::vector<std::string> answered;
  barrier.add("a", 0, [&](SettleOutcome outcome) { answered.push_back("a:" + outcome.problem); });
  barrier.add("b", 0, [&](SettleOutcome outcome) {
    answered.push_back("b:" + outcome.problem);
    barrier.add("c", 0, [&](SettleOutcome again) { answered.push_back("c:" + again.problem); });
  });
  barrier.answer("a", SettleOutcome{false, "no cookie"});
  barrier.answer("a", SettleOutcome{false, "twice"});  // answered already: nothing
  CHECK(answered == std::vector<std::string>{"a:no cookie"});
  barrier.answer_all(SettleOutcome{false, "stopping"});
  CHECK(answered == std::vector<std::string>{"a:no cookie", "b:stopping"});
  CHECK_FALSE(barrier.empty());  // "c", added by b's callback, waits
  barrier.answer_all(SettleOutcome{false, "stopped"});
  CHECK(answered.back() == "c:stopped");
  CHECK(barrier.empty());
}

}  // namespace
}  // namespace tetherd::daemon
