// `tetherd mirror SRC DST|URL [--delete MODE] [--delay MS] [--exclude GLOB]... [--include GLOB]...
//  [--once] [--no-durable]`: zero-config mode, one rule from the command line.
//
// The rule is validated by the same loader as a config file (sources, overlap, globs), so
// the command line cannot accept what a config would refuse. A local DST is created when
// missing; an sftp:// or s3:// DST names a remote store (remote_target.hpp).
// The default delete mode is "running": deletions seen while watching are mirrored, but
// nothing that already sits in DST is deleted at start-up unless --delete true says so
// (pointing DST at the wrong directory must not wipe it).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <system_error>

#include "remote_target.hpp"
#include "tetherd/cli/cli.hpp"
#include "tetherd/cli/command_support.hpp"
#include "tetherd/config/path_overlap.hpp"
#include "tetherd/config/store_url.hpp"
#include "tetherd/service/control_socket.hpp"
#include "tetherd/service/daemon.hpp"

namespace tetherd::daemon {
namespace {

namespace fs = std::filesystem;

struct MirrorOptions {
  std::string source;
  std::string target;
  std::string delete_mode = "running";
  std::uint32_t delay_ms = 200;
  std::vector<std::string> exclude;
  std::vector<std::string> include;
  bool once = false;
  bool dry_run = false;
  bool verify_target = false;
  bool not_durable = false;
  std::string socket;
  LogFlags log;
  RemoteTargetOptions remote;
};

int local_target(const fs::path& source, const MirrorOptions& options, nlohmann::json& rule,
                 nlohmann::json& document);
void rule_options(const MirrorOptions& options, nlohmann::json& rule);
int run_rule(const MirrorOptions& options, const nlohmann::json& document);

int run_mirror(const MirrorOptions& options) {
  // As the config loader checks a rule's source: a source that cannot be looked at (a
  // directory above it that this user may not search) is not called missing.
  std::error_code status_error;
  const fs::path source =
      fs::weakly_canonical(fs::absolute(options.source, status_error), status_error);
  const fs::file_status status =
      status_error ? fs::file_status() : fs::status(source, status_error);
  if (status_error && status_error != std::errc::no_such_file_or_directory) {
    std::fprintf(stderr, "tetherd mirror: cannot check the source %s: %s\n", options.source.c_str(),
                 status_error.message().c_str());
    return exit_code::no_input;
  }
  if (!fs::is_directory(status)) {
    std::fprintf(stderr, "tetherd mirror: source %s is not a directory%s\n", options.source.c_str(),
                 fs::exists(status) ? "" : " (it does not exist)");
    return exit_code::no_input;
  }
  const config::TargetUrlResult parsed = config::parse_target_url(options.target);
  if (!parsed.target) {
    std::fprintf(stderr, "tetherd mirror: %s\n", parsed.error.c_str());
    return exit_code::usage;
  }

  nlohmann::json rule;
  rule["name"] = "mirror";
  rule["source"] = source.string();
  nlohmann::json document;
  if (parsed.target->store) {
    if (options.not_durable) {
      std::fprintf(stderr, "tetherd mirror: --no-durable applies to local targets only\n");
      return exit_code::usage;
    }
    RemoteStoreJson remote = remote_store_json(*parsed.target->store, options.remote);
    if (!remote.store) {
      std::fprintf(stderr, "tetherd mirror: %s: %s\n", options.target.c_str(),
                   remote.error.c_str());
      return exit_code::usage;
    }
    document["stores"]["remote"] = std::move(*remote.store);
    rule["target"] = "remote:";
  } else if (const int failed = local_target(source, options, rule, document);
             failed != exit_code::ok) {
    return failed;
  }
  rule_options(options, rule);
  document["rules"] = nlohmann::json::array({rule});
  return run_rule(options, document);
}

/// A local DST: checked against the source, made when missing, named in the rule.
int local_target(const fs::path& source, const MirrorOptions& options, nlohmann::json& rule,
                 nlohmann::json& document) {
  std::error_code error;
  const fs::path target = fs::weakly_canonical(fs::absolute(options.target, error), error);
  // Before DST is made: judged by what the paths are (a bind mount is seen through).
  if (const auto overlap = config::source_target_overlap(source, target)) {
    std::fprintf(stderr, "tetherd mirror: %s\n", overlap->c_str());
    return exit_code::usage;
  }
  if (!fs::exists(target, error)) {
    fs::create_directories(target, error);
    if (error) {
      std::fprintf(stderr, "tetherd mirror: cannot create %s: %s\n", target.c_str(),
                   error.message().c_str());
      return exit_code::io_error;
    }
  }
  if (options.not_durable) {
    // A bare path means a local store with the defaults; one that is not durable must be
    // named (the events then say store "mirror").
    document["stores"]["mirror"] = {
        {"type", "local"}, {"root", target.string()}, {"durable", false}};
    rule["target"] = "mirror:";
  } else {
    rule["target"] = target.string();
  }
  return exit_code::ok;
}

void rule_options(const MirrorOptions& options, nlohmann::json& rule) {
  if (options.delete_mode == "true") {
    rule["delete"] = true;
  } else if (options.delete_mode == "false") {
    rule["delete"] = false;
  } else {
    rule["delete"] = options.delete_mode;
  }
  rule["delay_ms"] = options.delay_ms;
  rule["include"] = options.include;
  rule["exclude"] = options.exclude;
  rule["preserve"] = {"mtime", "mode"};
}

int run_rule(const MirrorOptions& options, const nlohmann::json& document) {
  config::ConfigResult loaded = config::parse_config(document.dump(2), "command line");
  if (!loaded.ok()) {
    for (const auto& problem : loaded.problems) {
      std::fprintf(stderr, "tetherd mirror: %s: %s\n", problem.json_path.c_str(),
                   problem.message.c_str());
    }
    return exit_code::usage;
  }

  DaemonOptions daemon_options;
  daemon_options.log = event_log_options(options.log, nullptr);
  daemon_options.once = options.once;
  daemon_options.dry_run = options.dry_run;
  daemon_options.verify_target = options.verify_target;
  if (!options.once) daemon_options.socket_path = default_control_socket(options.socket, "");
  Daemon daemon(std::move(daemon_options));
  return daemon.run(std::move(*loaded.config));
}

}  // namespace

void add_mirror_command(CLI::App& app, CommandMain& chosen) {
  auto options = std::make_shared<MirrorOptions>();
  CLI::App* command =
      app.add_subcommand("mirror",
                         "Mirror SRC to DST, live (zero-config single rule): a local directory, "
                         "sftp://[user@]host[:port]/path or s3://bucket/prefix");
  command->add_option("SRC", options->source, "Source directory")->required();
  command
      ->add_option("DST", options->target,
                   "Target directory (created when missing), or an sftp:// or s3:// URL")
      ->required();
  command
      ->add_option("--delete", options->delete_mode,
                   "true, false, startup or running (default: running: never delete what DST "
                   "already holds at start-up)")
      ->check(CLI::IsMember({"true", "false", "startup", "running"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  command
      ->add_option("--delay", options->delay_ms,
                   "Quiet period in ms before a change is mirrored (default 200)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  command->add_option("--exclude", options->exclude, "Glob of paths not to mirror (repeatable)");
  command->add_option("--include", options->include,
                      "Glob of paths to mirror; when given, only these (repeatable)");
  command->add_flag("--once", options->once, "Reconcile once and exit");
  command->add_flag("--dry-run", options->dry_run, "With --once: print the plan, change nothing");
  command->add_flag("--no-durable", options->not_durable,
                    "Do not wait for the disk: leave new data to the kernel's writeback, as cp "
                    "and rsync do (after a power loss the next start lists DST again)");
  add_verify_target_flag(command, options->verify_target);
  command->add_option("--socket", options->socket, "Control socket path");
  RemoteTargetOptions& remote = options->remote;
  command->add_option("--key-file", remote.key_file,
                      "sftp://: private key (default ~/.ssh/id_ed25519, id_ecdsa or id_rsa)");
  command->add_option("--known-hosts", remote.known_hosts,
                      "sftp://: known_hosts file checking the server (default "
                      "~/.ssh/known_hosts)");
  command->add_option("--host-key-fingerprint", remote.host_key_fingerprint,
                      "sftp://: the server's key as ssh-keygen -l prints it (SHA256:...)");
  command->add_option("--passphrase-file", remote.passphrase_file,
                      "sftp://: file whose first line is the key's passphrase");
  command->add_option("--endpoint", remote.endpoint,
                      "s3://: the service URL (https://host[:port]); required");
  command->add_option("--region", remote.region, "s3://: region (default us-east-1)");
  command->add_option("--credentials-file", remote.credentials_file,
                      "s3://: AWS-style credentials file (default: AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials)");
  command->add_option(
      "--profile", remote.profile,
      "s3://: profile in the credentials file (default: AWS_PROFILE, else default)");
  add_log_flags(command, options->log);
  command->callback([options, &chosen] { chosen = [options] { return run_mirror(*options); }; });
}

}  // namespace tetherd::daemon
