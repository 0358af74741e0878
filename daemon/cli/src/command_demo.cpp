// `tetherd demo [--dir DIR] [--keep-running]`: the Quick start's first run. Creates a demo
// source folder with a few files, mirrors it live to DIR/target with the real daemon, makes
// some changes while it watches (create, edit, rename, delete) waiting on settle after each,
// checks the target is identical to the source, and exits (or keeps mirroring until Ctrl-C
// with --keep-running, so the reader can try changes of their own).

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <thread>

#include "tetherd/cli/cli.hpp"
#include "tetherd/config/load_config.hpp"
#include "tetherd/service/control_socket.hpp"
#include "tetherd/service/daemon.hpp"

namespace tetherd::daemon {
namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  std::string dir = "tetherd-demo";
  bool keep_running = false;
};

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Differences between two trees (type and content), for the demo's final check.
std::vector<std::string> compare_trees(const fs::path& a, const fs::path& b) {
  std::vector<std::string> problems;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(a, error);
       it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::path relative = it->path().lexically_relative(a);
    const fs::path other = b / relative;
    if (it->is_symlink()) {
      if (!fs::is_symlink(other) || fs::read_symlink(other) != fs::read_symlink(it->path())) {
        problems.push_back("symlink differs: " + relative.string());
      }
    } else if (it->is_directory()) {
      if (!fs::is_directory(other)) problems.push_back("directory missing: " + relative.string());
    } else if (!fs::exists(other) || read_file(other) != read_file(it->path())) {
      problems.push_back("file differs: " + relative.string());
    }
  }
  for (auto it = fs::recursive_directory_iterator(b, error);
       it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::path relative = it->path().lexically_relative(b);
    if (!fs::exists(fs::symlink_status(a / relative))) {
      problems.push_back("extra on target: " + relative.string());
    }
  }
  return problems;
}

bool settle(const std::string& socket) {
  auto answer = control_request(socket, R"({"command":"settle"})", std::chrono::seconds(30));
  return answer && answer->find("\"ok\":true") != std::string::npos;
}

void say(const char* text) {
  std::printf("\n==> %s\n", text);
  std::fflush(stdout);
}

int run_demo(const DemoOptions& options) {
  std::error_code error;
  const fs::path base = fs::absolute(options.dir, error);
  const fs::path source = base / "source";
  const fs::path target = base / "target";
  fs::remove_all(target, error);
  fs::remove_all(source, error);
  fs::create_directories(source, error);
  if (error) {
    std::fprintf(stderr, "tetherd demo: cannot create %s: %s\n", source.c_str(),
                 error.message().c_str());
    return exit_code::io_error;
  }
  write_file(source / "README.txt",
             "This folder is watched by tetherd and mirrored to ../target.\n");
  write_file(source / "notes" / "monday.md", "# Monday\n- try tetherd\n");
  write_file(source / "photos" / "2024" / "beach.raw", std::string(256 * 1024, 'p'));
  fs::create_symlink("notes/monday.md", source / "latest-note", error);

  nlohmann::json rule = {{"name", "demo"},
                         {"source", source.string()},
                         {"target", target.string()},
                         {"delete", true},
                         {"delay_ms", 0},
                         {"preserve", {"mtime", "mode"}}};
  fs::create_directories(target, error);
  config::ConfigResult loaded =
      config::parse_config(nlohmann::json{{"rules", {rule}}}.dump(), "demo");
  if (!loaded.ok()) {
    for (const auto& problem : loaded.problems) {
      std::fprintf(stderr, "tetherd demo: %s\n", problem.to_string().c_str());
    }
    return exit_code::software;
  }
  const std::string socket = (base / "control.sock").string();
  std::printf("tetherd demo: mirroring %s -> %s (events below come from the daemon's log)\n",
              source.c_str(), target.c_str());
  std::fflush(stdout);

  DaemonOptions daemon_options;
  daemon_options.socket_path = socket;
  daemon_options.log.stderr_format = EventLogOptions::StderrFormat::human;
  daemon_options.log.file = (base / "events.jsonl").string();

  bool identical = false;
  std::thread script([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!control_request(socket, R"({"command":"status"})", std::chrono::seconds(1)) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!settle(socket)) return (void)::kill(::getpid(), SIGTERM);
    say("initial sync done; now editing a note, adding a file, renaming a folder, deleting one");
    write_file(source / "notes" / "monday.md", "# Monday\n- try tetherd\n- it works\n");
    write_file(source / "notes" / "tuesday.md", "# Tuesday\n");
    std::error_code ignored;
    fs::rename(source / "photos" / "2024", source / "photos" / "summer-2024", ignored);
    fs::remove(source / "README.txt", ignored);
    settle(socket);
    const auto problems = compare_trees(source, target);
    identical = problems.empty();
    for (const auto& problem : problems)
      std::printf("    %s\n", problem.c_str());
    say(identical ? "target is identical to source (the rename was a move, not a copy)"
                  : "target differs from source (see above)");
    if (options.keep_running) {
      say("still mirroring: change files in the source folder, press Ctrl-C to stop");
      return;
    }
    ::kill(::getpid(), SIGTERM);
  });
  Daemon daemon(std::move(daemon_options));
  const int code = daemon.run(std::move(*loaded.config));
  script.join();
  if (code != exit_code::ok) return code;
  std::printf("tetherd demo: done; the event log is in %s\n", (base / "events.jsonl").c_str());
  return identical ? exit_code::ok : exit_code::software;
}

}  // namespace

void add_demo_command(CLI::App& app, CommandMain& chosen) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* command = app.add_subcommand(
      "demo", "Mirror a demo folder live, make changes, check the mirror (no setup needed)");
  command->add_option("--dir", options->dir,
                      "Where to create source/ and target/ (default ./tetherd-demo)");
  command->add_flag("--keep-running", options->keep_running,
                    "Keep mirroring after the scripted changes, until Ctrl-C");
  command->callback([options, &chosen] { chosen = [options] { return run_demo(*options); }; });
}

}  // namespace tetherd::daemon
