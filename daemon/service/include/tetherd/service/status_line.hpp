#pragma once

// The one-line daemon status a person reads in `systemctl status` (sd_notify STATUS=):
//   "2 rules: 2 watching, 0 paused | 0 queued, 3 in flight | last error 14:02:11 UTC: photos:
//   a.jpg: Permission denied"
// Pure functions, so the wording is tested without a service manager.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/engine/mirror_rule.hpp"
#include "tetherd/service/event_log.hpp"

namespace tetherd::daemon {

/// Rule states (watching and paused always, others when present), the queued and in-flight
/// totals, and `last_error` when it is not empty.
std::string format_status_line(const std::vector<RuleStatus>& rules, std::string_view last_error);

/// For an error-level event, "HH:MM:SS UTC: rule: path: error" (the parts it has, the
/// time given as `when`); nullopt for other levels.
std::optional<std::string> last_error_text(const Event& event,
                                           std::chrono::system_clock::time_point when);

}  // namespace tetherd::daemon
