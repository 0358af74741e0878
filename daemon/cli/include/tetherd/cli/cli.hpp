#pragma once

#include <functional>

#include "tetherd/service/exit_codes.hpp"

namespace CLI {
class App;
}

namespace tetherd::daemon {

/// The body of the subcommand the user chose; returns the process exit code.
using CommandMain = std::function<int()>;

/// Parses argv, runs the chosen subcommand and returns the exit code. Usage errors print
/// CLI11's message and return exit_code::usage; --help returns 0.
int run_cli(int argc, char** argv);

/// Each subcommand registers its options on `app` and, when the user chooses it, stores
/// its body in `chosen` (set from the subcommand's parse callback, run after parsing).
void add_version_command(CLI::App& app, CommandMain& chosen);
void add_check_command(CLI::App& app, CommandMain& chosen);
void add_run_command(CLI::App& app, CommandMain& chosen);  // run, sync
void add_mirror_command(CLI::App& app, CommandMain& chosen);
void add_control_commands(CLI::App& app, CommandMain& chosen);  // status, settle
void add_logs_command(CLI::App& app, CommandMain& chosen);
void add_watch_command(CLI::App& app, CommandMain& chosen);
void add_demo_command(CLI::App& app, CommandMain& chosen);

}  // namespace tetherd::daemon
