#pragma once

// Daemon: the loop owner. It opens the stores (shared by name between rules), starts one
// MirrorRule per configured rule, serves the control socket, and handles signals:
// SIGTERM/SIGINT drain what is in flight and end with exit 0; SIGHUP reloads the config
// file (an invalid one is refused and the running rules go on).

#include <uv.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tetherd/config/config.hpp"
#include "tetherd/service/event_log.hpp"

namespace tetherd::daemon {

struct DaemonOptions {
  /// The file the config came from; SIGHUP reloads it. Empty: nothing to reload (mirror).
  std::string config_path;
  /// Control socket path; empty: none (sync --once).
  std::string socket_path;
  EventLogOptions log;
  /// Reconcile every rule once and exit (sync --once, mirror --once).
  bool once = false;
  /// With once: plan and log, change nothing.
  bool dry_run = false;
  /// List every target directory at start instead of trusting the listing cache.
  bool verify_target = false;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Runs until stopped (or, with `once`, until every rule has reconciled) and returns
  /// the process exit code. Start-up problems are printed and give their sysexits code.
  int run(config::Config config);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tetherd::daemon
