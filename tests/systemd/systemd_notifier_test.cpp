// SystemdNotifier against a real datagram socket standing in for systemd's $NOTIFY_SOCKET.
// Waits are on conditions with deadlines; the intervals are short only to keep runs quick.

#include "tetherd/service/systemd_notifier.hpp"

#include <doctest/doctest.h>
#include <time.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "notify_socket.hpp"
#include "support/temp_dir.hpp"
#include "tetherd/core/text.hpp"

using tetherd::daemon::SystemdNotifier;
using tetherd::daemon::SystemdNotifierOptions;
using tetherd::test::DatagramSink;
using tetherd::test_support::TempDir;

namespace {

constexpr auto deadline_length = std::chrono::seconds(20);

std::uint64_t monotonic_usec() {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

/// Sets the variables of a service manager for the test's lifetime, then removes them.
struct ManagerEnvironment {
  explicit ManagerEnvironment(const std::string& socket) {
    ::setenv("NOTIFY_SOCKET", socket.c_str(), 1);
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
  ~ManagerEnvironment() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
  }
};

struct Loop {
  uv_loop_t loop{};
  /// The daemon's loop always has referenced handles (signals, watchers); this one plays
  /// them, so that the notifier's unreferenced timers run. It never wakes the loop.
  uv_async_t keepalive{};
  Loop() {
    uv_loop_init(&loop);
    uv_async_init(&loop, &keepalive, nullptr);
  }
  ~Loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&keepalive), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);  // let closed handles finish
    const int closed = uv_loop_close(&loop);
    CHECK(closed == 0);
  }
  /// Whether any handle (referenced or not) is active: an armed timer shows here.
  /// Whether any handle but the keepalive is active: an armed timer shows here.
  bool any_active() { return count_handles(true) > 0; }
  /// Handles on the loop but the keepalive (only active ones when asked).
  int count_handles(bool active_only) {
    struct Walk {
      uv_handle_t* skip;
      bool active_only;
      int count = 0;
    } walk{reinterpret_cast<uv_handle_t*>(&keepalive), active_only};
    uv_walk(
        &loop,
        [](uv_handle_t* handle, void* argument) {
          auto* state = static_cast<Walk*>(argument);
          if (handle != state->skip && (!state->active_only || uv_is_active(handle))) {
            ++state->count;
          }
        },
        &walk);
    return walk.count;
  }
  /// Runs the loop (its timers may be unreferenced) until `done` or the deadline.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + deadline_length;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop, UV_RUN_NOWAIT);
      struct timespec pause {
        0, 1000000
      };
      ::nanosleep(&pause, nullptr);  // polling interval of the wait, not a timing assumption
    }
    return true;
  }
};

/// Collects everything the sink receives.
std::vector<std::string> drain(DatagramSink& sink) {
  std::vector<std::string> messages;
  while (auto message = sink.receive())
    messages.push_back(std::move(*message));
  return messages;
}

}  // namespace

TEST_CASE("without NOTIFY_SOCKET the notifier sends nothing and puts nothing on the loop") {
  TempDir dir{"tetherd-sd"};
  DatagramSink sink((dir.path() / "notify").string());
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "100000", 1);
  Loop loop;
  {
    SystemdNotifier notifier(&loop.loop, [] { return std::string("status"); });
    CHECK_FALSE(notifier.active());
    CHECK_FALSE(notifier.watchdog_interval().has_value());
    notifier.ready();
    notifier.status_changed();
    notifier.reloading();
    notifier.stopping();
    notifier.status_now("x");
    CHECK(loop.count_handles(false) == 0);
  }
  ::unsetenv("WATCHDOG_USEC");
  CHECK_FALSE(sink.receive().has_value());
}

TEST_CASE("ready, reloading and stopping send the sd_notify assignments") {
  TempDir dir{"tetherd-sd"};
  DatagramSink sink((dir.path() / "notify").string());
  ManagerEnvironment environment(sink.path());
  Loop loop;
  std::string status = "1 rule: 1 watching, 0 paused | 0 queued, 0 in flight";
  SystemdNotifier notifier(&loop.loop, [&status] { return status; });
  REQUIRE(notifier.active());
  CHECK_FALSE(notifier.watchdog_interval().has_value());

  notifier.ready();
  auto message = sink.receive(10000);
  REQUIRE(message.has_value());
  CHECK(*message == "READY=1\nSTATUS=" + status);

  const std::uint64_t before = monotonic_usec();
  notifier.reloading();
  const std::uint64_t after = monotonic_usec();
  message = sink.receive(10000);
  REQUIRE(message.has_value());
  CHECK(message->starts_with("RELOADING=1\nMONOTONIC_USEC="));
  const auto value_at = message->find("MONOTONIC_USEC=") + std::string("MONOTONIC_USEC=").size();
  const auto value_end = message->find('\n', value_at);
  const std::uint64_t stamp = std::stoull(message->substr(value_at, value_end - value_at));
  CHECK(stamp >= before);
  CHECK(stamp <= after);

  notifier.stopping();
  message = sink.receive(10000);
  REQUIRE(message.has_value());
  CHECK(message->starts_with("STOPPING=1\nSTATUS=stopping"));
  notifier.close();
}

TEST_CASE("status updates are debounced, sent on change only, and leave no timer when idle") {
  TempDir dir{"tetherd-sd"};
  DatagramSink sink((dir.path() / "notify").string());
  ManagerEnvironment environment(sink.path());
  Loop loop;
  std::string status = "first";
  SystemdNotifierOptions options;
  options.status_interval = std::chrono::milliseconds(50);
  SystemdNotifier notifier(
      &loop.loop, [&status] { return status; }, options);
  notifier.ready();
  REQUIRE(sink.receive(10000) == std::optional<std::string>("READY=1\nSTATUS=first"));
  CHECK_FALSE(loop.any_active());

  // A burst of changes becomes one update carrying the latest text.
  for (int i = 0; i < 100; ++i) {
    status = "change " + std::to_string(i);
    notifier.status_changed();
  }
  CHECK(loop.any_active());  // the one-shot timer is armed
  std::vector<std::string> messages;
  REQUIRE(loop.run_until([&] {
    for (auto& m : drain(sink))
      messages.push_back(std::move(m));
    return !messages.empty();
  }));
  // After the follow-up look finds nothing new, nothing stays armed: zero wakeups idle.
  REQUIRE(loop.run_until([&] { return !loop.any_active(); }));
  for (auto& m : drain(sink))
    messages.push_back(std::move(m));
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == "STATUS=change 99");

  // A change notice whose text is the same as the last one sent sends nothing.
  notifier.status_changed();
  REQUIRE(loop.run_until([&] { return !loop.any_active(); }));
  CHECK(drain(sink).empty());

  // A change that comes without a notice is caught by the follow-up after a send.
  status = "second";
  notifier.status_changed();
  REQUIRE(loop.run_until([&] { return sink.receive().has_value(); }));
  status = "third (no notice)";
  std::optional<std::string> follow_up;
  REQUIRE(loop.run_until([&] {
    follow_up = sink.receive();
    return follow_up.has_value();
  }));
  CHECK(*follow_up == "STATUS=third (no notice)");
  REQUIRE(loop.run_until([&] { return !loop.any_active(); }));
  notifier.close();
}

TEST_CASE("the watchdog pings at half of WATCHDOG_USEC when it is meant for this process") {
  TempDir dir{"tetherd-sd"};
  DatagramSink sink((dir.path() / "notify").string());
  ManagerEnvironment environment(sink.path());
  ::setenv("WATCHDOG_USEC", "100000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  Loop loop;
  SystemdNotifier notifier(&loop.loop, [] { return std::string("ok"); });
  REQUIRE(notifier.watchdog_interval().has_value());
  CHECK(*notifier.watchdog_interval() == std::chrono::microseconds(50000));
  int pings = 0;
  REQUIRE(loop.run_until([&] {
    for (const auto& message : drain(sink)) {
      CHECK(message == "WATCHDOG=1");
      ++pings;
    }
    return pings >= 3;
  }));
  notifier.close();
}

TEST_CASE("a watchdog meant for another process is not ours") {
  TempDir dir{"tetherd-sd"};
  DatagramSink sink((dir.path() / "notify").string());
  ManagerEnvironment environment(sink.path());
  ::setenv("WATCHDOG_USEC", "100000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  Loop loop;
  SystemdNotifier notifier(&loop.loop, [] { return std::string("ok"); });
  CHECK(notifier.active());
  CHECK_FALSE(notifier.watchdog_interval().has_value());
  CHECK_FALSE(loop.any_active());
}

TEST_CASE("status text is one valid UTF-8 line of bounded length") {
  // A newline would start a new assignment (e.g. a forged READY=1): it becomes a space.
  CHECK(SystemdNotifier::sanitize_status("a\nREADY=1\tb\x7f") == "a READY=1 b ");
  CHECK(SystemdNotifier::sanitize_status("bad \xff byte") == "bad \xEF\xBF\xBD byte");
  std::string long_text(398, 'x');
  long_text += "\xC3\xA9\xC3\xA9";  // "éé": the cut falls inside the second one
  const std::string cut = SystemdNotifier::sanitize_status(long_text);
  CHECK(cut.size() <= 400);
  CHECK(tetherd::core::is_valid_utf8(cut));
  CHECK(cut == std::string(398, 'x') + "\xC3\xA9");
}
