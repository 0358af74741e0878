#pragma once

// SystemdNotifier: the sd_notify side of a Type=notify service. Active only when
// the service manager set $NOTIFY_SOCKET; otherwise every call is a no-op and nothing is
// allocated on the loop (zero cost outside systemd).
//
// - ready(): "READY=1" with the current STATUS= line. The daemon calls it once every
//   rule's watches are up and its initial reconciliation is queued, and again after each
//   reload (accepted or refused).
// - reloading(): "RELOADING=1" and "MONOTONIC_USEC=<CLOCK_MONOTONIC now>" before a reload.
// - stopping(): "STOPPING=1" when the drain begins.
// - status_changed(): the STATUS= line is recomputed from the status source and sent if it
//   differs, at most once per `status_interval`. A one-shot timer is armed only when
//   something changed, plus one follow-up check after each send (to catch changes that
//   come without an event), so an idle daemon has no timer pending at all.
// - WATCHDOG=1 from a repeating loop timer at half the interval sd_watchdog_enabled()
//   gives, only when the watchdog is enabled for this process: a wedged loop stops pinging
//   and systemd restarts the service.
// Loop thread only. close() (or the destructor) closes the timers; run the loop afterwards
// to let them finish closing.

#include <uv.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tetherd::daemon {

struct SystemdNotifierOptions {
  /// Minimum time between two STATUS= updates.
  std::chrono::milliseconds status_interval{1000};
};

class SystemdNotifier {
 public:
  using StatusSource = std::function<std::string()>;

  /// Reads $NOTIFY_SOCKET (active or not) and $WATCHDOG_USEC/$WATCHDOG_PID (watchdog).
  SystemdNotifier(uv_loop_t* loop, StatusSource status, SystemdNotifierOptions options = {});
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  /// Whether the service manager listens ($NOTIFY_SOCKET was set).
  bool active() const noexcept { return active_; }
  /// The ping interval (half of WatchdogSec), or nullopt when the watchdog is off.
  std::optional<std::chrono::microseconds> watchdog_interval() const noexcept {
    return watchdog_interval_;
  }

  void ready();
  void reloading();
  void stopping();
  void status_changed();
  /// Sends STATUS=<text> now (start-up failures, before the loop runs).
  void status_now(std::string_view text);
  /// Stops and closes the timers; later calls send nothing more than READY/STOPPING/STATUS.
  void close();

  /// `text` made safe for one STATUS= assignment: valid UTF-8, control characters (a
  /// newline would start another assignment) replaced by spaces, at most 400 bytes.
  static std::string sanitize_status(std::string_view text);

 private:
  void send(const std::string& message);
  void arm_status_timer(std::chrono::milliseconds delay);
  void on_status_timer();

  uv_loop_t* loop_;
  StatusSource status_;
  SystemdNotifierOptions options_;
  bool active_ = false;
  bool stopping_ = false;
  std::optional<std::chrono::microseconds> watchdog_interval_;
  uv_timer_t* status_timer_ = nullptr;
  uv_timer_t* watchdog_timer_ = nullptr;
  bool status_timer_armed_ = false;
  std::string last_status_;
  std::chrono::steady_clock::time_point last_status_sent_{};
};

}  // namespace tetherd::daemon
