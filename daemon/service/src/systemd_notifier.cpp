#include "tetherd/service/systemd_notifier.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>
#include <exception>

#include "tetherd/core/text.hpp"

namespace tetherd::daemon {
namespace {

constexpr std::size_t max_status_bytes = 400;

template <typename Handle>
void close_and_delete(Handle* handle) {
  handle->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* closed) { delete reinterpret_cast<Handle*>(closed); });
}

std::uint64_t monotonic_usec() noexcept {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
}

}  // namespace

SystemdNotifier::SystemdNotifier(uv_loop_t* loop, StatusSource status,
                                 SystemdNotifierOptions options)
    : loop_(loop), status_(std::move(status)), options_(options) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  if (!active_) return;

  status_timer_ = new uv_timer_t;
  uv_timer_init(loop_, status_timer_);
  status_timer_->data = this;
  // A pending status update must not keep a finished loop alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(status_timer_));

  std::uint64_t usec = 0;
  // sd_watchdog_enabled checks $WATCHDOG_PID against our pid; the variables are kept (0)
  // because nothing here runs a child that could mistake them for its own.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    std::uint64_t period_ms = usec / 2 / 1000;
    if (period_ms == 0) period_ms = 1;
    watchdog_timer_ = new uv_timer_t;
    uv_timer_init(loop_, watchdog_timer_);
    watchdog_timer_->data = this;
    uv_timer_start(
        watchdog_timer_,
        [](uv_timer_t* timer) noexcept {
          if (auto* self = static_cast<SystemdNotifier*>(timer->data)) self->send("WATCHDOG=1");
        },
        period_ms, period_ms);
    uv_unref(reinterpret_cast<uv_handle_t*>(watchdog_timer_));
  }
}

SystemdNotifier::~SystemdNotifier() {
  close();
}

void SystemdNotifier::close() {
  if (status_timer_ != nullptr) {
    close_and_delete(status_timer_);
    status_timer_ = nullptr;
    status_timer_armed_ = false;
  }
  if (watchdog_timer_ != nullptr) {
    close_and_delete(watchdog_timer_);
    watchdog_timer_ = nullptr;
  }
}

void SystemdNotifier::send(const std::string& message) {
  // A failed send (the manager went away) has no one to report to: the daemon goes on.
  (void)sd_notify(0, message.c_str());
}

std::string SystemdNotifier::sanitize_status(std::string_view text) {
  std::string line = core::utf8_lossy(text);
  for (char& c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = ' ';
  }
  if (line.size() > max_status_bytes) {
    std::size_t cut = max_status_bytes;
    // Back up to a character boundary so the line stays valid UTF-8.
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80)
      --cut;
    line.resize(cut);
  }
  return line;
}

void SystemdNotifier::ready() {
  if (!active_) return;
  last_status_ = sanitize_status(status_ ? status_() : std::string());
  last_status_sent_ = std::chrono::steady_clock::now();
  send("READY=1\nSTATUS=" + last_status_);
}

void SystemdNotifier::reloading() {
  if (!active_) return;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) +
       "\nSTATUS=reloading the configuration");
}

void SystemdNotifier::stopping() {
  if (!active_ || stopping_) return;
  stopping_ = true;
  if (status_timer_ != nullptr) {
    uv_timer_stop(status_timer_);
    status_timer_armed_ = false;
  }
  std::string status = "stopping: finishing the actions in flight";
  if (status_) status += " | " + status_();
  send("STOPPING=1\nSTATUS=" + sanitize_status(status));
}

void SystemdNotifier::status_now(std::string_view text) {
  if (!active_) return;
  last_status_ = sanitize_status(text);
  last_status_sent_ = std::chrono::steady_clock::now();
  send("STATUS=" + last_status_);
}

void SystemdNotifier::status_changed() {
  if (!active_ || stopping_ || status_timer_ == nullptr || status_timer_armed_) return;
  const auto next = last_status_sent_ + options_.status_interval;
  const auto now = std::chrono::steady_clock::now();
  arm_status_timer(next > now ? std::chrono::ceil<std::chrono::milliseconds>(next - now)
                              : std::chrono::milliseconds(0));
}

void SystemdNotifier::arm_status_timer(std::chrono::milliseconds delay) {
  status_timer_armed_ = true;
  uv_timer_start(
      status_timer_,
      [](uv_timer_t* timer) noexcept {
        auto* self = static_cast<SystemdNotifier*>(timer->data);
        if (self == nullptr) return;
        try {
          self->on_status_timer();
        } catch (const std::exception&) {
          // Only the status text failed to build (allocation): the next change retries.
        }
      },
      static_cast<std::uint64_t>(delay.count()), 0);
}

void SystemdNotifier::on_status_timer() {
  status_timer_armed_ = false;
  if (stopping_) return;
  std::string line = sanitize_status(status_ ? status_() : std::string());
  if (line == last_status_) return;  // nothing new: no follow-up, the loop may idle
  last_status_ = std::move(line);
  last_status_sent_ = std::chrono::steady_clock::now();
  send("STATUS=" + last_status_);
  // One more look a period later: counters (queued, in flight) also move without events.
  arm_status_timer(options_.status_interval);
}

}  // namespace tetherd::daemon
