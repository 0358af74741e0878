#include "tetherd/service/status_line.hpp"

#include <cstdio>
#include <ctime>

namespace tetherd::daemon {

std::string format_status_line(const std::vector<RuleStatus>& rules, std::string_view last_error) {
  std::size_t watching = 0, paused = 0, initial = 0, starting = 0, stopping = 0, finished = 0;
  std::size_t queued = 0, in_flight = 0;
  for (const RuleStatus& rule : rules) {
    switch (rule.state) {
      case RuleState::watching:
        ++watching;
        break;
      case RuleState::paused:
        ++paused;
        break;
      case RuleState::initial_sync:
        ++initial;
        break;
      case RuleState::starting:
        ++starting;
        break;
      case RuleState::stopping:
      case RuleState::stopped:
        ++stopping;
        break;
      case RuleState::finished:
        ++finished;
        break;
    }
    queued += rule.queued;
    in_flight += rule.in_flight;
  }
  std::string line = std::to_string(rules.size()) + (rules.size() == 1 ? " rule: " : " rules: ");
  if (starting > 0) line += std::to_string(starting) + " starting, ";
  if (initial > 0) line += std::to_string(initial) + " in initial sync, ";
  line += std::to_string(watching) + " watching, " + std::to_string(paused) + " paused";
  if (stopping > 0) line += ", " + std::to_string(stopping) + " stopping";
  if (finished > 0) line += ", " + std::to_string(finished) + " finished";
  line += " | " + std::to_string(queued) + " queued, " + std::to_string(in_flight) + " in flight";
  if (!last_error.empty()) {
    line += " | last error ";
    line += last_error;
  }
  return line;
}

std::optional<std::string> last_error_text(const Event& event,
                                           std::chrono::system_clock::time_point when) {
  if (event.level() != EventLevel::error) return std::nullopt;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  ::gmtime_r(&seconds, &parts);
  char clock[32];
  std::snprintf(clock, sizeof clock, "%02d:%02d:%02d UTC", parts.tm_hour, parts.tm_min,
                parts.tm_sec);
  std::string text = clock;
  if (const auto rule = event.text_field("rule")) text += ": " + std::string(*rule);
  if (const auto path = event.text_field("path"); path && !path->empty()) {
    text += ": " + std::string(*path);
  }
  if (const auto error = event.text_field("error")) {
    text += ": " + std::string(*error);
  } else if (const auto message = event.text_field("message")) {
    text += ": " + std::string(*message);
  } else {
    text += ": " + event.name();
    if (const auto result = event.text_field("result")) text += " " + std::string(*result);
  }
  return text;
}

}  // namespace tetherd::daemon
