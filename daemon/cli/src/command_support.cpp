#include "tetherd/cli/command_support.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "tetherd/cli/cli.hpp"
#include "tetherd/service/journal_sink.hpp"

namespace tetherd::daemon {

std::string choose_config_file(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* from_environment = std::getenv("TETHERD_CONFIG");
      from_environment != nullptr && *from_environment != '\0') {
    return from_environment;
  }
  return std::string(config::default_config_path);
}

void add_verify_target_flag(CLI::App* command, bool& verify_target) {
  command->add_flag("--verify-target", verify_target,
                    "At start, list every target directory (and compare every entry) instead of "
                    "trusting the listing cache: catches edits made inside target files");
}

void add_log_flags(CLI::App* command, LogFlags& flags) {
  command->add_option("--log-file", flags.file, "Append the JSON-lines event log to FILE");
  command
      ->add_option("--log-format", flags.format,
                   "Event log on stderr: human, json or none (default: human on a terminal, "
                   "else json)")
      ->check(CLI::IsMember({"human", "json", "none"}));
  command
      ->add_option("--log-journal", flags.journal,
                   "Send events to the systemd journal with TETHERD_* fields instead of "
                   "stderr: auto (when stderr is the journal), yes or no (default: auto)")
      ->check(CLI::IsMember({"auto", "yes", "no"}));
  command->add_flag("-v,--verbose", flags.verbose, "Log debug events too");
  command->add_flag("-q,--quiet", flags.quiet, "Log warnings and errors only (-qq: errors)");
}

EventLogOptions event_log_options(const LogFlags& flags, const config::Config* config) {
  EventLogOptions options;
  options.file = flags.file;
  if (options.file.empty() && config && !config->log.file.empty()) {
    options.file = config->log.file.string();
  }
  if (config) {
    switch (config->log.level) {
      case config::LogLevel::Trace:
      case config::LogLevel::Debug:
        options.level = EventLevel::debug;
        break;
      case config::LogLevel::Info:
        options.level = EventLevel::info;
        break;
      case config::LogLevel::Warn:
        options.level = EventLevel::warn;
        break;
      case config::LogLevel::Error:
        options.level = EventLevel::error;
        break;
    }
  }
  if (flags.verbose > 0) options.level = EventLevel::debug;
  if (flags.quiet > 0) options.level = flags.quiet > 1 ? EventLevel::error : EventLevel::warn;
  if (flags.format == "json") {
    options.stderr_format = EventLogOptions::StderrFormat::json;
  } else if (flags.format == "human") {
    options.stderr_format = EventLogOptions::StderrFormat::human;
  } else if (flags.format == "none") {
    options.stderr_format = EventLogOptions::StderrFormat::none;
  } else {
    options.stderr_format = ::isatty(STDERR_FILENO) ? EventLogOptions::StderrFormat::human
                                                    : EventLogOptions::StderrFormat::json;
  }
  options.journal =
      flags.journal == "yes" || (flags.journal == "auto" && journal_stream_is(STDERR_FILENO));
  return options;
}

int report_config_problems(const config::ConfigResult& result) {
  for (const config::Problem& problem : result.problems) {
    std::fprintf(stderr, "%s\n", problem.to_string().c_str());
  }
  return result.unreadable ? exit_code::no_input : exit_code::config;
}

}  // namespace tetherd::daemon
