// `tetherd run [-c FILE]` (the daemon, in the foreground) and
// `tetherd sync --once [-c FILE] [--dry-run]` (reconcile every rule once, then exit).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "tetherd/cli/cli.hpp"
#include "tetherd/cli/command_support.hpp"
#include "tetherd/service/control_socket.hpp"
#include "tetherd/service/daemon.hpp"

namespace tetherd::daemon {
namespace {

struct RunOptions {
  std::string config_file;
  std::string socket;
  LogFlags log;
  bool once = false;
  bool dry_run = false;
  bool verify_target = false;
};

int run_daemon(const RunOptions& options, bool sync_mode) {
  const std::string path = choose_config_file(options.config_file);
  config::ConfigResult loaded = config::load_config(path);
  if (!loaded.ok()) return report_config_problems(loaded);
  config::Config config = std::move(*loaded.config);

  DaemonOptions daemon_options;
  daemon_options.config_path = path;
  daemon_options.log = event_log_options(options.log, &config);
  daemon_options.once = sync_mode;
  daemon_options.dry_run = options.dry_run;
  daemon_options.verify_target = options.verify_target;
  if (!sync_mode) {
    daemon_options.socket_path =
        default_control_socket(options.socket, config.control_socket.string());
  }
  Daemon daemon(std::move(daemon_options));
  return daemon.run(std::move(config));
}

}  // namespace

void add_run_command(CLI::App& app, CommandMain& chosen) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* command = app.add_subcommand(
      "run", "Run the daemon in the foreground: watch every rule's source and mirror it");
  command->add_option("-c,--config", options->config_file,
                      "Config file (default: $TETHERD_CONFIG, else /etc/tetherd/tetherd.json)");
  command->add_option("--socket", options->socket, "Control socket path");
  add_verify_target_flag(command, options->verify_target);
  add_log_flags(command, options->log);
  command->callback(
      [options, &chosen] { chosen = [options] { return run_daemon(*options, false); }; });

  auto sync = std::make_shared<RunOptions>();
  CLI::App* sync_command =
      app.add_subcommand("sync", "Reconcile every rule once and exit (cron mode)");
  sync_command->add_flag("--once", sync->once, "Reconcile once and exit (the only mode)")
      ->required();
  sync_command->add_option(
      "-c,--config", sync->config_file,
      "Config file (default: $TETHERD_CONFIG, else /etc/tetherd/tetherd.json)");
  sync_command->add_flag("--dry-run", sync->dry_run, "Print the plan; change nothing");
  add_verify_target_flag(sync_command, sync->verify_target);
  add_log_flags(sync_command, sync->log);
  sync_command->callback([sync, &chosen] { chosen = [sync] { return run_daemon(*sync, true); }; });
}

}  // namespace tetherd::daemon
