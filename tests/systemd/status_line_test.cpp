// The STATUS= line's wording (what `systemctl status` shows).

#include "tetherd/service/status_line.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace tetherd::daemon;

namespace {

RuleStatus rule(RuleState state, std::size_t queued, std::size_t in_flight) {
  RuleStatus status;
  status.state = state;
  status.queued = queued;
  status.in_flight = in_flight;
  return status;
}

}  // namespace

TEST_CASE("the status line counts rule states and pending work") {
  CHECK(format_status_line({rule(RuleState::watching, 0, 3), rule(RuleState::watching, 2, 0)},
                           "") == "2 rules: 2 watching, 0 paused | 2 queued, 3 in flight");
  CHECK(format_status_line({rule(RuleState::initial_sync, 5, 1)}, "") ==
        "1 rule: 1 in initial sync, 0 watching, 0 paused | 5 queued, 1 in flight");
  CHECK(format_status_line({rule(RuleState::paused, 0, 0), rule(RuleState::stopping, 0, 1)},
                           "12:00:01 UTC: photos: boom") ==
        "2 rules: 0 watching, 1 paused, 1 stopping | 0 queued, 1 in flight | last error "
        "12:00:01 UTC: photos: boom");
  CHECK(format_status_line({}, "") == "0 rules: 0 watching, 0 paused | 0 queued, 0 in flight");
}

TEST_CASE("last error text names the rule, the path and the error of an error event") {
  // 2026-11-25T14:02:11Z
  const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1795615331));
  Event failed(EventLevel::error, "error");
  failed.rule("photos").path("2024/a.jpg").text("error", "Permission denied");
  CHECK(last_error_text(failed, when) ==
        std::optional<std::string>("14:02:11 UTC: photos: 2024/a.jpg: Permission denied"));

  Event refused(EventLevel::error, "reload");
  refused.result("refused").message("the new config is invalid");
  CHECK(last_error_text(refused, when) ==
        std::optional<std::string>("14:02:11 UTC: the new config is invalid"));

  Event bare(EventLevel::error, "overflow");
  bare.result("lost");
  CHECK(last_error_text(bare, when) == std::optional<std::string>("14:02:11 UTC: overflow lost"));

  CHECK_FALSE(last_error_text(Event(EventLevel::warn, "retry"), when).has_value());
  CHECK_FALSE(last_error_text(Event(EventLevel::info, "copy"), when).has_value());
}
