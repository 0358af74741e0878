// `tetherd check [-c FILE] [--explain PATH]`: validate the config; optionally explain which
// rule and which include/exclude pattern decide whether a path is mirrored.
//
// Exit codes: 0 valid (with --explain: and the path is mirrored by at least one rule);
// 1 with --explain when no rule mirrors the path; 66 the config file does not exist or
// cannot be read; 78 the config has problems (each printed on stderr as
// `file:line:column: json.path: message`).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <variant>

#include "tetherd/cli/cli.hpp"
#include "tetherd/cli/command_support.hpp"
#include "tetherd/config/load_config.hpp"
#include "tetherd/core/path_filter.hpp"

namespace tetherd::daemon {
namespace {

namespace fs = std::filesystem;

struct CheckOptions {
  std::string config_file;
  std::string explain_path;
};

std::string plural(std::size_t count, const char* noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string describe_target(const config::Config& config, const config::Target& target) {
  if (target.implicit_local()) return target.path + " (local)";
  const config::StoreConfig* store = config.find_store(target.store);
  return target.store + ":" + target.path + " (" +
         std::string(store ? config::store_type_name(*store) : "?") + ")";
}

std::string describe_store(const config::StoreConfig& store) {
  if (const auto* local = std::get_if<config::LocalStoreConfig>(&store.backend)) {
    return "local " + local->root.string() + (local->durable ? "" : ", not durable");
  }
  if (const auto* sftp = std::get_if<config::SftpStoreConfig>(&store.backend)) {
    return "sftp " + sftp->user + "@" + sftp->host + ":" + std::to_string(sftp->port) + " " +
           sftp->root;
  }
  const auto& s3 = std::get<config::S3StoreConfig>(store.backend);
  return "s3 " + s3.endpoint + " bucket " + s3.bucket +
         (s3.prefix.empty() ? "" : " prefix " + s3.prefix);
}

void print_summary(const config::Config& config) {
  std::printf("%s: OK: %s, %s\n", config.origin.c_str(),
              plural(config.rules.size(), "rule").c_str(),
              plural(config.stores.size(), "store").c_str());
  for (const config::Rule& rule : config.rules) {
    std::printf("  rule %s: %s -> %s, delete %s, delay %u ms\n", rule.name.c_str(),
                rule.source.c_str(), describe_target(config, rule.target).c_str(),
                std::string(config::to_string(rule.delete_mode)).c_str(), rule.delay_ms);
  }
  for (const config::StoreConfig& store : config.stores) {
    std::printf("  store %s: %s\n", store.name.c_str(), describe_store(store).c_str());
  }
}

// `path` relative to `root` if it is root or beneath it ("" for root itself).
std::optional<std::string> relative_to(const fs::path& path, const fs::path& root) {
  auto path_it = path.begin();
  for (auto root_it = root.begin(); root_it != root.end(); ++root_it) {
    if (root_it->empty()) continue;  // a trailing separator matches nothing
    if (path_it == path.end() || *path_it != *root_it) return std::nullopt;
    ++path_it;
  }
  fs::path rest;
  for (; path_it != path.end(); ++path_it) {
    if (!path_it->empty()) rest /= *path_it;
  }
  return rest.generic_string();
}

fs::path normalized(const fs::path& path) {
  fs::path out = path.lexically_normal();
  if (!out.has_filename() && out != out.root_path()) out = out.parent_path();
  return out;
}

// Where `relative` ends up for `rule`, for humans.
std::string destination(const config::Config& config, const config::Rule& rule,
                        const std::string& relative) {
  const auto join = [](const std::string& base, const std::string& rest) {
    if (base.empty()) return rest;
    if (rest.empty()) return base;
    return base + "/" + rest;
  };
  if (rule.target.implicit_local()) return join(rule.target.path, relative) + " (local)";
  const config::StoreConfig* store = config.find_store(rule.target.store);
  std::string where = "store \"" + rule.target.store + "\" (" +
                      std::string(store ? config::store_type_name(*store) : "?") + ") at " +
                      (join(rule.target.path, relative).empty() ? std::string("its root")
                                                                : join(rule.target.path, relative));
  if (store != nullptr) {
    if (const auto* local = std::get_if<config::LocalStoreConfig>(&store->backend)) {
      where += " = " + (local->root / join(rule.target.path, relative)).lexically_normal().string();
    }
  }
  return where;
}

int explain(const config::Config& config, const std::string& requested) {
  fs::path path = requested;
  if (path.is_relative()) {
    std::error_code cwd_error;
    const fs::path cwd = fs::current_path(cwd_error);
    if (cwd_error) {
      std::fprintf(stderr, "tetherd check: cannot resolve %s: %s\n", requested.c_str(),
                   cwd_error.message().c_str());
      return exit_code::io_error;
    }
    path = cwd / path;
  }
  path = normalized(path);
  // Also compared with symbolic links resolved, so a path reached through a link to a source
  // (or a source given through a link) is still recognized.
  std::error_code resolve_error;
  const fs::path resolved = normalized(fs::weakly_canonical(path, resolve_error));
  std::error_code status_error;
  const fs::file_status status = fs::symlink_status(path, status_error);
  const bool exists = fs::exists(status);
  const bool is_dir = fs::is_directory(status);
  std::printf("%s (%s)\n", path.c_str(),
              !exists                  ? "does not exist; judged as a file"
              : is_dir                 ? "directory"
              : fs::is_symlink(status) ? "symbolic link"
                                       : "file");
  bool covered = false;
  bool mirrored = false;
  for (const config::Rule& rule : config.rules) {
    std::optional<std::string> relative = relative_to(path, rule.source);
    if (!relative && !resolve_error) {
      std::error_code source_error;
      const fs::path real_source = normalized(fs::weakly_canonical(rule.source, source_error));
      if (!source_error) relative = relative_to(resolved, real_source);
    }
    if (!relative) continue;
    covered = true;
    std::printf("  rule %s (source %s): relative path \"%s\"\n", rule.name.c_str(),
                rule.source.c_str(), relative->c_str());
    if (relative->empty()) {
      std::printf("    this is the rule's source root: mirrored to %s\n",
                  destination(config, rule, "").c_str());
      mirrored = true;
      continue;
    }
    const core::PathFilter filter(rule.include, rule.exclude);
    const core::FilterDecision decision = filter.decide(*relative, is_dir);
    std::printf("    %s\n", core::describe(decision).c_str());
    if (!decision.included) {
      if (is_dir && filter.should_descend(*relative)) {
        std::printf("    not mirrored itself, but watched: paths beneath it may be included\n");
      } else if (is_dir) {
        std::printf("    not mirrored, and not watched: nothing beneath it can be included\n");
      } else {
        std::printf("    not mirrored\n");
      }
      continue;
    }
    if (exists && fs::is_symlink(status) && rule.symlinks == config::SymlinkMode::Skip) {
      std::printf("    not mirrored: symbolic links are skipped (\"symlinks\": \"skip\")\n");
      continue;
    }
    std::printf("    mirrored to %s\n", destination(config, rule, *relative).c_str());
    mirrored = true;
  }
  if (!covered) std::printf("  no rule covers this path\n");
  std::fflush(stdout);
  return mirrored ? exit_code::ok : 1;
}

int run_check(const CheckOptions& options) {
  const std::string file = choose_config_file(options.config_file);
  const config::ConfigResult result = config::load_config(file);
  if (result.unreadable) {
    for (const config::Problem& problem : result.problems) {
      std::fprintf(stderr, "tetherd check: %s\n", problem.to_string().c_str());
    }
    if (options.config_file.empty()) {
      std::fprintf(stderr, "tetherd check: give the config with -c FILE or $TETHERD_CONFIG\n");
    }
    return exit_code::no_input;
  }
  if (!result.ok()) {
    for (const config::Problem& problem : result.problems) {
      std::fprintf(stderr, "%s\n", problem.to_string().c_str());
    }
    std::fprintf(stderr, "tetherd check: %s in %s\n",
                 plural(result.problems.size(), "problem").c_str(), file.c_str());
    return exit_code::config;
  }
  if (!options.explain_path.empty()) return explain(*result.config, options.explain_path);
  print_summary(*result.config);
  return std::fflush(stdout) == 0 ? exit_code::ok : exit_code::io_error;
}

}  // namespace

void add_check_command(CLI::App& app, CommandMain& chosen) {
  auto options = std::make_shared<CheckOptions>();
  CLI::App* command = app.add_subcommand(
      "check",
      "Validate the config: exit 0, or print every problem as file:line:column and exit 78 "
      "(66: the file cannot be read)");
  command
      ->add_option("-c,--config", options->config_file,
                   "Config file (default: $TETHERD_CONFIG, else /etc/tetherd/tetherd.json)")
      ->type_name("FILE");
  command
      ->add_option("--explain", options->explain_path,
                   "Say which rule and which include/exclude pattern decide whether PATH is "
                   "mirrored, and where to (exit 1 if no rule mirrors it)")
      ->type_name("PATH");
  command->callback([&chosen, options] { chosen = [options] { return run_check(*options); }; });
}

}  // namespace tetherd::daemon
