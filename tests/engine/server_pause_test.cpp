// A store that answers "slow down, come back in N seconds" (HTTP Retry-After, carried by
// StoreError::retry_after) is not asked again sooner: the rule's retry waits at least that
// long, and a bounded time at most. Simulated time (seeded: the same run every time, its
// workers sometimes slow by a few seconds): nothing here sleeps.

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "sim/memory_source_tree.hpp"
#include "sim/sim_executor.hpp"
#include "sim/sim_watcher.hpp"
#include "tetherd/engine/mirror_rule.hpp"
#include "tetherd/stores/memory_store.hpp"

namespace tetherd {
namespace {

using namespace std::chrono_literals;

/// Notes when the rule looked at the file again after its failed write, in simulated time.
class EventTimes final : public daemon::EventSink {
 public:
  explicit EventTimes(const sim::SimExecutor& executor) : executor_(executor) {}
  void emit(const daemon::Event& event) override {
    if (event.name() == "retry" && !retry) {
      retry = executor_.now();
      retry_line = event.to_json();
    } else if (event.name() == "plan" && retry && !looked_again) {
      looked_again = executor_.now();
    } else if (event.name() == "initial_sync_end") {
      finished = true;
    }
  }
  bool wanted(daemon::EventLevel) const noexcept override { return true; }
  std::optional<sim::SimExecutor::Clock::time_point> retry, looked_again;
  bool finished = false;
  std::string retry_line;

 private:
  const sim::SimExecutor& executor_;
};

/// Mirrors one file through a store whose first write fails with `error`; returns the
/// simulated time from the failure to the rule's next look at the file (its retry).
std::chrono::milliseconds time_to_retry(const core::StoreError& error, std::string& retry_line) {
  std::mt19937_64 random(11);
  sim::SimExecutor executor(random);
  auto tree = std::make_shared<sim::MemorySourceTree>(executor, random);
  tree->create_file("a.txt", "hello");
  // An old file: the rule copies it at once instead of waiting for it to be quiet.
  executor.advance(std::chrono::minutes(1));
  auto store = stores::open_memory_store(executor);
  stores::Fault fault;
  fault.operation = core::Operation::Write;
  fault.error = error;
  store->inject(fault);

  EventTimes events(executor);
  daemon::RuleSettings settings;
  settings.name = "pause";
  settings.source = tree->root();
  settings.target = store;
  settings.target_label = "memory";
  settings.open_source = [tree](const std::string&) {
    return core::Result<std::shared_ptr<daemon::SourceTree>>(
        std::shared_ptr<daemon::SourceTree>(tree));
  };
  settings.make_watcher = [tree](watchers::WatcherOptions options) {
    return std::unique_ptr<watchers::Watcher>(
        std::make_unique<sim::SimWatcher>(tree, std::move(options)));
  };
  auto rule = std::make_shared<daemon::MirrorRule>(nullptr, executor, events, settings);
  REQUIRE(static_cast<bool>(rule->start()));
  for (int steps = 0; !events.finished && steps < 1'000'000; ++steps) {
    if (!executor.step()) break;
  }
  REQUIRE(events.finished);
  REQUIRE(events.retry.has_value());
  REQUIRE(events.looked_again.has_value());
  retry_line = events.retry_line;

  std::optional<core::Result<core::EntryInfo>> copied;
  store->stat(*core::StoreKey::parse("a.txt"),
              [&copied](core::Result<core::EntryInfo> info) { copied.emplace(std::move(info)); });
  while (!copied && executor.step()) {
  }
  REQUIRE(copied.has_value());
  CHECK(copied->ok());

  bool stopped = false;
  rule->stop([&stopped] { stopped = true; });
  while (!stopped && executor.step()) {
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*events.looked_again -
                                                               *events.retry);
}

core::StoreError throttled(std::optional<std::chrono::milliseconds> retry_after) {
  auto error = core::StoreError::make(core::Errc::RateLimited, "slow down");
  error.retryable = true;
  error.retry_after = retry_after;
  return error;
}

TEST_CASE("engine: a retry waits as long as the server asked (Retry-After)") {
  std::string line;
  const auto waited = time_to_retry(throttled(45s), line);
  CHECK(waited >= 45s);
  CHECK(waited < 60s);  // and the simulation's slow workers
  CHECK(line.find("\"delay_ms\":45000") != std::string::npos);
}

TEST_CASE("engine: without Retry-After a retry comes after the short first backoff") {
  std::string line;
  const auto waited = time_to_retry(throttled(std::nullopt), line);
  CHECK(waited < 10s);
}

TEST_CASE("engine: a Retry-After of days is bounded to 15 minutes") {
  std::string line;
  const auto waited = time_to_retry(throttled(std::chrono::hours(24 * 3)), line);
  CHECK(waited >= 15min);
  CHECK(waited < 16min);
}

}  // namespace
}  // namespace tetherd
