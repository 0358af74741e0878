#include "tetherd/cli/cli.hpp"

#include <CLI/CLI.hpp>

namespace tetherd::daemon {

int run_cli(int argc, char** argv) {
  CLI::App app{"tetherd: watch directories and mirror every change to local, SFTP and S3 stores",
               "tetherd"};
  app.require_subcommand(1);
  app.fallthrough(false);

  CommandMain chosen;
  // Subcommands, one line each (keep in the order `tetherd --help` should list them).
  add_run_command(app, chosen);
  add_mirror_command(app, chosen);
  add_check_command(app, chosen);
  add_control_commands(app, chosen);
  add_logs_command(app, chosen);
  add_watch_command(app, chosen);
  add_demo_command(app, chosen);
  add_version_command(app, chosen);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int cli_code = app.exit(error);
    return cli_code == 0 ? exit_code::ok : exit_code::usage;
  }
  return chosen ? chosen() : exit_code::usage;
}

}  // namespace tetherd::daemon
