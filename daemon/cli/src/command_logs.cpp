// `tetherd logs [-f] [--rule R] [--event E] [--level L] [--since T] [--json] [--file F]
//  [-c FILE]`: read (and follow) the JSON-lines event log, human-readable by default.
//
// The log file is --file, else the config's log.file. Following survives rotation: when
// the path names a new file (logrotate's create) or the file shrank (copytruncate), it is
// reopened from the start.

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "tetherd/cli/cli.hpp"
#include "tetherd/cli/command_support.hpp"
#include "tetherd/core/text.hpp"
#include "tetherd/service/event_log.hpp"

namespace tetherd::daemon {
namespace {

struct LogsOptions {
  std::string file;
  std::string config_file;
  bool follow = false;
  std::vector<std::string> rules;
  std::vector<std::string> events;
  std::string level;
  std::string since;
  bool json = false;
};

volatile std::sig_atomic_t interrupted = 0;

int level_rank(std::string_view level) {
  const auto parsed = event_level_from_string(level);
  return parsed ? static_cast<int>(*parsed) : static_cast<int>(EventLevel::info);
}

/// A human line from a JSON event: "2026-11-22 15:04:08.255 copy photos 2024/a.jpg ok ...".
/// Every text taken from the file is escaped (core::display_escape), as the daemon's own
/// human lines are: a name holding a newline or a terminal control sequence can neither
/// forge a line nor drive the terminal. A path with a "<key>_base64" companion shows its
/// exact bytes.
std::string human_line(const nlohmann::ordered_json& event) {
  const auto shown = [](const nlohmann::ordered_json& value) {
    return core::display_escape(value.is_string() ? value.get<std::string>() : value.dump());
  };
  std::string ts = event.value("ts", std::string());
  if (ts.size() >= 23) ts = ts.substr(0, 10) + " " + ts.substr(11, 12);
  std::string line = core::display_escape(ts) + " ";
  const std::string level = event.value("level", std::string("info"));
  if (level == "warn" || level == "error") line += level + ": ";
  line += core::display_escape(event.value("event", std::string("?")));
  for (const auto& [key, value] : event.items()) {
    if (key == "ts" || key == "level" || key == "event" || key.ends_with("_base64") ||
        key == "errc" || key == "retryable") {
      continue;
    }
    line += ' ';
    if (key != "rule" && key != "path" && key != "result" && key != "message") {
      line += core::display_escape(key) + "=";
    }
    const auto exact = event.find(key + "_base64");
    std::optional<std::string> bytes;
    if (exact != event.end() && exact->is_string()) {
      bytes = core::base64_decode(exact->get<std::string>());
    }
    line += bytes ? core::display_escape(*bytes) : shown(value);
  }
  return line;
}

class Filter {
 public:
  explicit Filter(const LogsOptions& options) : options_(options) {
    if (!options.level.empty()) minimum_level_ = level_rank(options.level);
  }
  bool keep(const nlohmann::ordered_json& event) const {
    if (!options_.rules.empty() &&
        std::find(options_.rules.begin(), options_.rules.end(),
                  event.value("rule", std::string())) == options_.rules.end()) {
      return false;
    }
    if (!options_.events.empty() &&
        std::find(options_.events.begin(), options_.events.end(),
                  event.value("event", std::string())) == options_.events.end()) {
      return false;
    }
    if (level_rank(event.value("level", std::string("info"))) < minimum_level_) return false;
    // Timestamps are ISO-8601 UTC of one fixed width: they compare as strings.
    if (!options_.since.empty() && event.value("ts", std::string()) < options_.since) return false;
    return true;
  }

 private:
  const LogsOptions& options_;
  int minimum_level_ = static_cast<int>(EventLevel::debug);
};

/// Turns --since into an ISO-8601 UTC prefix: an absolute "2026-11-25T10:00" (or with a
/// space) is used as is; "90s", "15m", "2h", "3d" mean that long ago.
std::optional<std::string> since_timestamp(const std::string& text) {
  if (text.empty()) return std::string();
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    std::string iso = text;
    if (iso.size() > 10 && iso[10] == ' ') iso[10] = 'T';
    return iso;
  }
  char unit = text.back();
  std::int64_t amount = 0;
  try {
    amount = std::stoll(text.substr(0, text.size() - 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  std::int64_t seconds = 0;
  switch (unit) {
    case 's':
      seconds = amount;
      break;
    case 'm':
      seconds = amount * 60;
      break;
    case 'h':
      seconds = amount * 3600;
      break;
    case 'd':
      seconds = amount * 86400;
      break;
    default:
      return std::nullopt;
  }
  const auto then = std::chrono::system_clock::now() - std::chrono::seconds(seconds);
  const std::time_t whole = std::chrono::system_clock::to_time_t(then);
  std::tm parts{};
  ::gmtime_r(&whole, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &parts);
  return std::string(buffer);
}

int show_logs(LogsOptions options) {
  std::string path = options.file;
  if (path.empty()) {
    const std::string config_path = choose_config_file(options.config_file);
    config::ConfigResult loaded = config::load_config(config_path);
    if (!loaded.ok()) return report_config_problems(loaded);
    path = loaded.config->log.file.string();
    if (path.empty()) {
      std::fprintf(stderr,
                   "tetherd logs: %s sets no log file (\"log\": {\"file\": ...}); under systemd "
                   "use journalctl -u tetherd, or pass --file\n",
                   config_path.c_str());
      return exit_code::config;
    }
  }
  const auto since = since_timestamp(options.since);
  if (!since) {
    std::fprintf(stderr,
                 "tetherd logs: --since: expected a time like 2026-11-25T10:00 or an age "
                 "like 90s, 15m, 2h, 3d\n");
    return exit_code::usage;
  }
  options.since = *since;
  if (!options.level.empty() && !event_level_from_string(options.level)) {
    std::fprintf(stderr, "tetherd logs: --level: expected debug, info, warn or error\n");
    return exit_code::usage;
  }
  const Filter filter(options);

  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file && !options.follow) {
    std::fprintf(stderr, "tetherd logs: cannot open %s: %s\n", path.c_str(), std::strerror(errno));
    return exit_code::no_input;
  }
  struct stat opened {};
  if (file) ::fstat(::fileno(file), &opened);
  std::string pending;
  char buffer[65536];
  while (!interrupted) {
    std::size_t got = file ? std::fread(buffer, 1, sizeof buffer, file) : 0;
    if (got > 0) {
      pending.append(buffer, got);
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        const std::string line = pending.substr(0, newline);
        pending.erase(0, newline + 1);
        nlohmann::ordered_json event;
        try {
          event = nlohmann::ordered_json::parse(line);
        } catch (const std::exception&) {
          continue;  // not an event line (e.g. cut by a crash): skip it
        }
        if (!filter.keep(event)) continue;
        std::printf("%s\n", options.json ? line.c_str() : human_line(event).c_str());
      }
      continue;
    }
    std::fflush(stdout);
    if (!options.follow) break;
    if (file) std::clearerr(file);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    struct stat now {};
    const bool exists = ::stat(path.c_str(), &now) == 0;
    const bool rotated =
        exists && (!file || now.st_ino != opened.st_ino || now.st_dev != opened.st_dev ||
                   now.st_size < static_cast<off_t>(std::ftell(file)));
    if (rotated) {
      if (file) std::fclose(file);
      file = std::fopen(path.c_str(), "rb");
      if (file) ::fstat(::fileno(file), &opened);
      pending.clear();
    }
  }
  if (file) std::fclose(file);
  return exit_code::ok;
}

}  // namespace

void add_logs_command(CLI::App& app, CommandMain& chosen) {
  auto options = std::make_shared<LogsOptions>();
  CLI::App* command = app.add_subcommand("logs", "Read and follow the event log");
  command->add_option("--file", options->file, "Event log file (default: the config's log.file)");
  command->add_option("-c,--config", options->config_file, "Config file naming the log file");
  command->add_flag("-f,--follow", options->follow, "Keep printing new events (survives rotation)");
  command->add_option("--rule", options->rules, "Only events of this rule (repeatable)");
  command->add_option("--event", options->events, "Only these events, e.g. copy (repeatable)");
  command->add_option("--level", options->level, "Minimum level: debug, info, warn, error");
  command->add_option("--since", options->since,
                      "Only events since a UTC time (2026-11-25T10:00) or an age (15m, 2h, 3d)");
  command->add_flag("--json", options->json, "Print the JSON lines as they are");
  command->callback([options, &chosen] { chosen = [options] { return show_logs(*options); }; });
}

}  // namespace tetherd::daemon
