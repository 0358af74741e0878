// `tetherd status [--json]` and `tetherd settle [--timeout S]`: ask a running daemon over
// its control socket.
//
// Exit codes: 0 ok; 69 no daemon answers on the socket; settle: 75 when the timeout passes
// first, 74 when some change could not be mirrored (the problems are printed).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "tetherd/cli/cli.hpp"
#include "tetherd/core/text.hpp"
#include "tetherd/service/control_socket.hpp"

namespace tetherd::daemon {
namespace {

struct ControlOptions {
  std::string socket;
  bool json = false;
  double timeout_seconds = 60;
};

int print_status(const ControlOptions& options) {
  const std::string path = client_control_socket(options.socket);
  auto answer = control_request(path, R"({"command":"status"})", std::chrono::seconds(10));
  if (!answer) {
    std::fprintf(stderr, "tetherd status: %s\n", answer.error().message().c_str());
    return exit_code::unavailable;
  }
  if (options.json) {
    std::printf("%s\n", answer->c_str());
    return exit_code::ok;
  }
  nlohmann::json status;
  try {
    status = nlohmann::json::parse(*answer);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tetherd status: the daemon answered something unreadable: %s\n",
                 error.what());
    return exit_code::software;
  }
  // Names, paths and error messages are escaped: they may hold newlines or terminal
  // control sequences (core::display_escape).
  const auto text = [](const nlohmann::json& object, const char* key, const char* otherwise) {
    return core::display_escape(object.value(key, std::string(otherwise)));
  };
  std::printf("tetherd %s, pid %d, %zu rule(s)\n", text(status, "version", "?").c_str(),
              status.value("pid", 0), status["rules"].size());
  for (const auto& rule : status["rules"]) {
    const auto& counters = rule["counters"];
    std::printf("  %s: %s  %s -> %s\n", text(rule, "name", "").c_str(),
                text(rule, "state", "").c_str(), text(rule, "source", "").c_str(),
                text(rule, "target", "").c_str());
    std::printf(
        "    queued %llu, in flight %llu%s; copies %llu (%llu bytes), moves %llu, deletes %llu, "
        "errors %llu, retries %llu\n",
        rule.value("queued", 0ull), rule.value("in_flight", 0ull),
        rule.value("rescanning", false) ? ", rescanning" : "", counters.value("copies", 0ull),
        counters.value("bytes", 0ull), counters.value("moves", 0ull),
        counters.value("deletes", 0ull), counters.value("errors", 0ull),
        counters.value("retries", 0ull));
    const std::string paused = rule.value("paused_reason", std::string());
    const std::string last_error = rule.value("last_error", std::string());
    if (!paused.empty()) std::printf("    paused: %s\n", core::display_escape(paused).c_str());
    if (const auto failing = rule.value("failing_paths", 0ull); failing > 0) {
      std::printf("    %llu path(s) not mirrored since their last error\n", failing);
    }
    if (!last_error.empty() && last_error != paused) {
      std::printf("    last error: %s\n", core::display_escape(last_error).c_str());
    }
  }
  return exit_code::ok;
}

int settle(const ControlOptions& options) {
  const std::string path = client_control_socket(options.socket);
  const auto timeout = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::max(0.0, options.timeout_seconds) * 1000.0));
  auto answer = control_request(path, R"({"command":"settle"})", timeout);
  if (!answer) {
    if (answer.error().code == core::Errc::Timeout) {
      std::fprintf(stderr, "tetherd settle: not settled within %g s\n", options.timeout_seconds);
      return exit_code::temp_fail;
    }
    std::fprintf(stderr, "tetherd settle: %s\n", answer.error().message().c_str());
    return exit_code::unavailable;
  }
  try {
    const auto result = nlohmann::json::parse(*answer);
    if (result.value("ok", false)) return exit_code::ok;
    for (const auto& problem : result.value("problems", nlohmann::json::array())) {
      std::fprintf(stderr, "tetherd settle: %s\n", problem.get<std::string>().c_str());
    }
    if (result.contains("error")) {
      std::fprintf(stderr, "tetherd settle: %s\n", result["error"].get<std::string>().c_str());
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tetherd settle: unreadable answer: %s\n", error.what());
    return exit_code::software;
  }
  return exit_code::io_error;
}

}  // namespace

void add_control_commands(CLI::App& app, CommandMain& chosen) {
  auto status_options = std::make_shared<ControlOptions>();
  CLI::App* status = app.add_subcommand("status", "Show the running daemon's rules and counters");
  status->add_option("--socket", status_options->socket, "Control socket path");
  status->add_flag("--json", status_options->json, "Print the daemon's JSON answer");
  status->callback([status_options, &chosen] {
    chosen = [status_options] { return print_status(*status_options); };
  });

  auto settle_options = std::make_shared<ControlOptions>();
  CLI::App* settle_command = app.add_subcommand(
      "settle", "Wait until every change made in the sources before now has been mirrored");
  settle_command->add_option("--socket", settle_options->socket, "Control socket path");
  settle_command
      ->add_option("--timeout", settle_options->timeout_seconds,
                   "Give up after S seconds (exit 75); default 60")
      ->check(CLI::NonNegativeNumber);
  settle_command->callback(
      [settle_options, &chosen] { chosen = [settle_options] { return settle(*settle_options); }; });
}

}  // namespace tetherd::daemon
