#pragma once

// Pieces the daemon-facing subcommands share: where the config file is, how the event log
// goes to stderr, and how config problems are printed.

#include <string>
#include <vector>

#include "tetherd/config/load_config.hpp"
#include "tetherd/service/event_log.hpp"

namespace CLI {
class App;
}

namespace tetherd::daemon {

/// -c FILE, else $TETHERD_CONFIG, else /etc/tetherd/tetherd.json.
std::string choose_config_file(const std::string& option);

/// Options every daemon-facing command takes: --log-file, --log-format, --log-journal, -v, -q.
struct LogFlags {
  std::string file;
  std::string format;  ///< "json", "human" or "" (human on a terminal, else JSON)
  /// "auto" (the journal when stderr is connected to it, i.e. under systemd), "yes", "no".
  std::string journal = "auto";
  int verbose = 0;
  int quiet = 0;
};

/// Adds --log-file, --log-format, --log-journal, -v and -q to a subcommand.
void add_log_flags(CLI::App* command, LogFlags& flags);
/// Adds --verify-target (list every target directory instead of trusting the listing cache).
void add_verify_target_flag(CLI::App* command, bool& verify_target);

/// The event log options those flags (and the config's `log` section) ask for.
EventLogOptions event_log_options(const LogFlags& flags, const config::Config* config);

/// Prints every problem (file:line:column: path: message) on stderr and returns the exit
/// code for them: 66 when the file could not be read, else 78.
int report_config_problems(const config::ConfigResult& result);

}  // namespace tetherd::daemon
