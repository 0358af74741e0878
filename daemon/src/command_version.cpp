#include <CLI/CLI.hpp>
#include <cstdio>

#include "tetherd/core/build_info.hpp"
#include "tetherd/daemon/cli.hpp"

namespace tetherd::daemon {
namespace {

int print_version() {
  const core::BuildInfo& info = core::build_info();
  std::printf("tetherd %s\n", info.version.c_str());
  std::printf("compiler: %s\n", info.compiler.c_str());
  std::printf("build type: %s\n", info.build_type.c_str());
  std::printf("sanitizers: %s\n", info.sanitizers ? "address,undefined" : "none");
  return std::fflush(stdout) == 0 ? exit_code::ok : exit_code::io_error;
}

}  // namespace

void add_version_command(CLI::App& app, CommandMain& chosen) {
  CLI::App* command = app.add_subcommand("version", "Print version, compiler and build options");
  command->callback([&chosen] { chosen = print_version; });
}

}  // namespace tetherd::daemon
