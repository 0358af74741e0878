#pragma once

// Starting and stopping the server processes of the test fixtures, by PID.
//
// spawn_logged() runs a program found on PATH with its stdout and stderr in one file (the
// file is the place to look when a server does not come up). stop_process() ends a process
// with SIGTERM, and SIGKILL if it is still there after the grace period. Both are blocking
// and meant for fixture set-up and tear-down only.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace tetherd::test_support {

/// Starts argv[0] (looked up on PATH) with `argv`, stdin inherited, stdout and stderr both
/// written to `output` (created or truncated, mode 0600). Returns the child's PID; the
/// caller reaps it (stop_process, wait_gone or waitpid). Throws std::runtime_error, naming
/// the program, when it cannot be started.
inline pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& output) {
  if (argv.empty()) throw std::invalid_argument("spawn_logged: no program");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const auto& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0]);
  return pid;
}

/// Whether `pid` is gone within `grace` (polled every 25 ms: a process that is not our
/// child gives no signal when it ends). Reaps it when it is our child; a process that is
/// not (a daemon a start script left running) counts as gone once kill(pid, 0) fails.
inline bool wait_gone(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return true;
    if (::kill(pid, 0) != 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
}

/// SIGTERM, then SIGKILL if `pid` is still there after `grace`; returns once it is gone
/// (and reaped, when it is our child). PIDs <= 0 are ignored, so that no process group is
/// ever signalled by mistake.
inline void stop_process(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(10)) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (!wait_gone(pid, grace)) {
    ::kill(pid, SIGKILL);
    wait_gone(pid, grace);  // SIGKILL cannot be ignored: this is the reaping
  }
}

}  // namespace tetherd::test_support
