#include "tetherd/service/daemon.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "tetherd/config/load_config.hpp"
#include "tetherd/core/build_info.hpp"
#include "tetherd/engine/mirror_rule.hpp"
#include "tetherd/engine/target_listing_cache.hpp"
#include "tetherd/service/boot_id.hpp"
#include "tetherd/service/control_socket.hpp"
#include "tetherd/service/exit_codes.hpp"
#include "tetherd/service/resource_limits.hpp"
#include "tetherd/service/status_line.hpp"
#include "tetherd/service/systemd_notifier.hpp"
#include "tetherd/stores/local_store.hpp"
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::daemon {

namespace {

bool same_backend(const config::StoreConfig& a, const config::StoreConfig& b) {
  if (a.backend.index() != b.backend.index()) return false;
  if (const auto* local = std::get_if<config::LocalStoreConfig>(&a.backend)) {
    const auto& other = std::get<config::LocalStoreConfig>(b.backend);
    return local->root == other.root && local->durable == other.durable;
  }
  if (const auto* sftp = std::get_if<config::SftpStoreConfig>(&a.backend)) {
    const auto& other = std::get<config::SftpStoreConfig>(b.backend);
    return sftp->host == other.host && sftp->port == other.port && sftp->user == other.user &&
           sftp->key_file == other.key_file && sftp->known_hosts == other.known_hosts &&
           sftp->root == other.root;
  }
  const auto& s3 = std::get<config::S3StoreConfig>(a.backend);
  const auto& other = std::get<config::S3StoreConfig>(b.backend);
  return s3.endpoint == other.endpoint && s3.region == other.region && s3.bucket == other.bucket &&
         s3.credentials_file == other.credentials_file && s3.prefix == other.prefix;
}

bool same_rule(const config::Rule& a, const config::Rule& b) {
  return a.name == b.name && a.source == b.source && a.target.store == b.target.store &&
         a.target.path == b.target.path && a.include == b.include && a.exclude == b.exclude &&
         a.delete_mode == b.delete_mode && a.delay_ms == b.delay_ms &&
         a.initial_sync == b.initial_sync && a.preserve == b.preserve && a.symlinks == b.symlinks &&
         a.max_delete_percent == b.max_delete_percent;
}

/// The key under which a rule's base store is kept: the store name, or the directory of an
/// implicit local target.
std::string store_key_for(const config::Rule& rule) {
  return rule.target.implicit_local() ? "local:" + rule.target.path : rule.target.store;
}

int exit_code_for(const core::StoreError& error) {
  switch (error.code) {
    case core::Errc::NotFound:
    case core::Errc::NotADirectory:
      return exit_code::no_input;
    case core::Errc::PermissionDenied:
      return exit_code::no_input;
    case core::Errc::CapabilityNotSupported:
      return exit_code::config;
    default:
      return exit_code::unavailable;
  }
}

}  // namespace

struct Daemon::State {
  struct RunningRule {
    config::Rule config;
    std::shared_ptr<MirrorRule> rule;
  };

  DaemonOptions options;
  uv_loop_t loop{};
  std::unique_ptr<stores::UvExecutor> executor;
  std::unique_ptr<EventLog> log;
  config::Config config;
  std::map<std::string, std::pair<config::StoreConfig, core::StorePtr>> stores;
  std::map<std::string, RunningRule> rules;
  std::size_t open_file_limit = 1024;
  std::unique_ptr<ControlServer> control;
  /// sd_notify (READY/RELOADING/STOPPING/STATUS/WATCHDOG); inert outside systemd.
  std::unique_ptr<SystemdNotifier> notifier;
  std::string last_error;  ///< for the STATUS= line: the latest error-level event
  uv_signal_t signals[3]{};
  bool signals_open = false;
  /// Flushes the event log right before the loop waits (EventLog::set_batching).
  uv_prepare_t log_flush{};
  bool stopping = false;
  int exit_code = exit_code::ok;
  std::size_t once_pending = 0;

  /// The store a rule's target is in (shared by name), and its configuration in `chosen`.
  core::Result<core::StorePtr> store_for(const config::Rule& rule, const config::Config& from,
                                         config::StoreConfig* chosen = nullptr);
  core::Result<std::shared_ptr<MirrorRule>> make_rule(const config::Rule& rule,
                                                      const config::Config& from);
  void begin_stop(int code);
  void reload();
  void handle_control(std::string_view command, std::function<void(std::string)> reply);
  std::string status_json() const;
  std::string status_line() const;
};

namespace {

/// Opens the backend a store configuration names (a new instance every call).
core::Result<core::StorePtr> open_backend(core::Executor& executor,
                                          const config::StoreConfig& wanted) {
  if (const auto* local = std::get_if<config::LocalStoreConfig>(&wanted.backend)) {
    stores::LocalStoreOptions local_options;
    local_options.name = wanted.name;
    local_options.root = local->root.string();
    local_options.durable = local->durable;
    return stores::open_local_store(executor, local_options);
  }
  return core::StoreError::make(
      core::Errc::CapabilityNotSupported,
      "store '" + wanted.name + "' has type " + std::string(config::store_type_name(wanted)) +
          ", which this build of tetherd cannot open yet (local stores only)");
}

}  // namespace

core::Result<core::StorePtr> Daemon::State::store_for(const config::Rule& rule,
                                                      const config::Config& from,
                                                      config::StoreConfig* chosen) {
  const std::string key = store_key_for(rule);
  config::StoreConfig wanted;
  if (rule.target.implicit_local()) {
    wanted.name = rule.target.path;
    wanted.backend = config::LocalStoreConfig{rule.target.path};
  } else if (const config::StoreConfig* named = from.find_store(rule.target.store)) {
    wanted = *named;
  } else {
    return core::StoreError::make(
        core::Errc::InvalidPath,
        "rule '" + rule.name + "' names unknown store '" + rule.target.store + "'");
  }
  if (auto it = stores.find(key); it != stores.end() && same_backend(it->second.first, wanted)) {
    if (chosen != nullptr) *chosen = wanted;
    return it->second.second;
  }
  if (chosen != nullptr) *chosen = wanted;
  auto store = open_backend(*executor, wanted);
  if (!store) return store;
  stores[key] = {wanted, *store};
  return store;
}

core::Result<std::shared_ptr<MirrorRule>> Daemon::State::make_rule(const config::Rule& rule,
                                                                   const config::Config& from) {
  if (rule.symlinks == config::SymlinkMode::Follow) {
    // Following links needs the watcher to watch their targets too; until it does, refuse
    // rather than silently mirror the links themselves.
    return core::StoreError::make(core::Errc::CapabilityNotSupported,
                                  "rule '" + rule.name +
                                      "': \"symlinks\": \"follow\" is not supported by this "
                                      "version; use \"copy\" or \"skip\"");
  }
  config::StoreConfig store_config;
  auto base = store_for(rule, from, &store_config);
  if (!base) return std::move(base).error();
  core::StorePtr target = *base;
  std::string label = rule.target.path;
  std::optional<core::StoreKey> within;
  if (!rule.target.implicit_local()) {
    label = rule.target.store + ":" + rule.target.path;
    if (!rule.target.path.empty()) {
      auto key = core::StoreKey::parse(rule.target.path);
      if (!key) return std::move(key).error();
      target = target->child(*key);
      within = std::move(*key);
    }
  }
  RuleSettings settings;
  // A store of the rule's own, opened again while its target root is gone (rm -rf, an
  // unmounted disk) until the directory is back; the shared one keeps the removed one.
  settings.reopen_target = [executor = executor.get(), store_config,
                            within]() -> core::Result<core::StorePtr> {
    auto reopened = open_backend(*executor, store_config);
    if (!reopened || !within) return reopened;
    return (*reopened)->child(*within);
  };
  settings.name = rule.name;
  settings.source = rule.source.string();
  settings.target = std::move(target);
  settings.target_label = label;
  settings.include = rule.include;
  settings.exclude = rule.exclude;
  settings.delete_mode = rule.delete_mode;
  settings.delay = std::chrono::milliseconds(rule.delay_ms);
  settings.initial_sync = rule.initial_sync;
  settings.preserve = rule.preserve;
  settings.symlinks = rule.symlinks;
  settings.max_delete_percent = rule.max_delete_percent;
  settings.max_in_flight = writes_in_flight_per_rule(open_file_limit, from.rules.size());
  settings.live = !options.once;
  settings.dry_run = options.dry_run;
  // A listing cache only where directory mtimes are the store's own, exact and on this
  // machine's clock (the racy-window rule compares them with it): local targets.
  const core::Resolution where = settings.target->resolve(core::StoreKey::root());
  const std::string state_dir = default_state_directory();
  // A target that is not durable may lose, in a power loss, what a saved cache describes
  // (a file's data, a name): its cache holds only within the boot that saved it, so the
  // first start after a reboot lists the whole target and re-copies what came out short.
  const bool durable = settings.target->capabilities().has(core::Capability::Durable);
  const std::string boot_id = durable ? std::string() : current_boot_id();
  if (where.backend == "local" && !state_dir.empty() && (durable || !boot_id.empty())) {
    const std::string context = "tetherd listing cache\nrule " + rule.name + "\nsource " +
                                settings.source + "\ntarget " + where.native_path + "\n";
    settings.listing_cache_file = listing_cache_file(state_dir, context);
    settings.listing_cache_context = durable ? context : context + "boot " + boot_id + "\n";
    settings.trust_listing_cache = !options.verify_target;
  }
  auto mirror = std::make_shared<MirrorRule>(&loop, *executor, *log, std::move(settings));
  auto started = mirror->start();
  if (!started) return std::move(started).error();
  return mirror;
}

void Daemon::State::begin_stop(int code) {
  if (stopping) return;
  stopping = true;
  if (code != exit_code::ok && exit_code == exit_code::ok) exit_code = code;
  log->emit(Event(EventLevel::info, "stop").number("pid", ::getpid()));
  notifier->stopping();
  auto pending = std::make_shared<std::size_t>(rules.size() + 1);
  auto after_rules = [this, pending] {
    if (--*pending > 0) return;
    // Every rule has drained: close the stores, then the loop's own handles.
    auto stores_left = std::make_shared<std::size_t>(stores.size() + 1);
    auto after_stores = [this, stores_left] {
      if (--*stores_left > 0) return;
      stores.clear();
      rules.clear();
      if (control) control->close();
      notifier->close();  // the watchdog pinged until the drain was over
      if (signals_open) {
        for (auto& handle : signals)
          uv_close(reinterpret_cast<uv_handle_t*>(&handle), nullptr);
        signals_open = false;
      }
      executor->close();
      log->flush();
    };
    for (auto& [key, entry] : stores) {
      entry.second->close([after_stores](core::Result<void>) { after_stores(); });
    }
    after_stores();
  };
  for (auto& [name, running] : rules)
    running.rule->stop(after_rules);
  after_rules();
}

std::string Daemon::State::status_line() const {
  std::vector<RuleStatus> statuses;
  statuses.reserve(rules.size());
  for (const auto& [name, running] : rules)
    statuses.push_back(running.rule->status());
  return format_status_line(statuses, last_error);
}

std::string Daemon::State::status_json() const {
  nlohmann::json answer;
  answer["ok"] = true;
  answer["pid"] = ::getpid();
  answer["version"] = core::build_info().version;
  answer["rules"] = nlohmann::json::array();
  for (const auto& [name, running] : rules) {
    const RuleStatus status = running.rule->status();
    nlohmann::json rule;
    rule["name"] = status.name;
    rule["source"] = status.source;
    rule["target"] = status.target;
    rule["state"] = to_string(status.state);
    rule["queued"] = status.queued;
    rule["in_flight"] = status.in_flight;
    rule["rescanning"] = status.rescanning;
    rule["counters"] = {
        {"copies", status.counters.copies},   {"bytes", status.counters.bytes},
        {"moves", status.counters.moves},     {"deletes", status.counters.deletes},
        {"mkdirs", status.counters.mkdirs},   {"symlinks", status.counters.symlinks},
        {"attrs", status.counters.attrs},     {"errors", status.counters.errors},
        {"retries", status.counters.retries}, {"rescans", status.counters.rescans}};
    rule["last_error"] = status.last_error;
    rule["paused_reason"] = status.paused_reason;
    rule["failing_paths"] = status.failing_paths;
    answer["rules"].push_back(std::move(rule));
  }
  return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Daemon::State::handle_control(std::string_view command,
                                   std::function<void(std::string)> reply) {
  if (command == "status") {
    reply(status_json());
    return;
  }
  if (command == "settle") {
    if (stopping) {
      reply(R"({"ok":false,"problems":["the daemon is stopping"]})");
      return;
    }
    struct Gather {
      std::size_t pending = 0;
      std::vector<std::string> problems;
      std::function<void(std::string)> reply;
    };
    auto gather = std::make_shared<Gather>();
    gather->pending = rules.size() + 1;
    gather->reply = std::move(reply);
    auto one_done = [gather](SettleOutcome outcome) {
      if (!outcome.ok) gather->problems.push_back(outcome.problem);
      if (--gather->pending > 0) return;
      nlohmann::json answer;
      answer["ok"] = gather->problems.empty();
      answer["problems"] = gather->problems;
      gather->reply(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    };
    for (auto& [name, running] : rules)
      running.rule->settle(one_done);
    one_done(SettleOutcome{});
    return;
  }
  nlohmann::json answer;
  answer["ok"] = false;
  answer["error"] = "unknown command '" + std::string(command) + "' (status, settle)";
  reply(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void Daemon::State::reload() {
  if (options.config_path.empty() || stopping) return;
  // systemd sees the reload begin and end (READY=1 again), whether the new config was
  // taken, refused, or the reload failed part-way.
  notifier->reloading();
  struct ReadyAgain {
    SystemdNotifier& notifier;
    ~ReadyAgain() {
      try {
        notifier.ready();
      } catch (const std::exception&) {
        // Only the status text failed to build; nothing to tell anyone.
      }
    }
  } ready_again{*notifier};
  config::ConfigResult loaded = config::load_config(options.config_path);
  if (!loaded.ok()) {
    for (const auto& problem : loaded.problems) {
      log->emit(Event(EventLevel::error, "reload").result("error").message(problem.to_string()));
    }
    log->emit(Event(EventLevel::error, "reload")
                  .result("refused")
                  .message("the new config is invalid; the running config stays in force"));
    return;
  }
  config::Config next = std::move(*loaded.config);
  std::int64_t added = 0, removed = 0, changed = 0, kept = 0, failed = 0;

  // Rules that are gone or changed stop first; changed and new ones start after.
  std::vector<config::Rule> to_start;
  for (auto it = rules.begin(); it != rules.end();) {
    const config::Rule* wanted = nullptr;
    for (const auto& rule : next.rules) {
      if (rule.name == it->first) wanted = &rule;
    }
    bool store_same = false;
    if (wanted) {
      const std::string key = store_key_for(*wanted);
      auto store = stores.find(key);
      if (wanted->target.implicit_local()) {
        store_same = store != stores.end();
      } else if (const auto* named = next.find_store(wanted->target.store)) {
        store_same = store != stores.end() && same_backend(store->second.first, *named);
      }
    }
    if (wanted && store_same && same_rule(it->second.config, *wanted)) {
      ++kept;
      ++it;
      continue;
    }
    it->second.rule->stop([] {});
    if (wanted) {
      ++changed;
      to_start.push_back(*wanted);
    } else {
      ++removed;
    }
    it = rules.erase(it);
  }
  for (const auto& rule : next.rules) {
    if (rules.count(rule.name) == 0 &&
        std::none_of(to_start.begin(), to_start.end(),
                     [&](const config::Rule& r) { return r.name == rule.name; })) {
      ++added;
      to_start.push_back(rule);
    }
  }
  for (const auto& rule : to_start) {
    auto made = make_rule(rule, next);
    if (!made) {
      ++failed;
      log->emit(
          Event(EventLevel::error, "reload").rule(rule.name).result("error").error(made.error()));
      continue;
    }
    rules[rule.name] = RunningRule{rule, std::move(*made)};
  }
  config = std::move(next);
  log->emit(Event(failed ? EventLevel::warn : EventLevel::info, "reload")
                .result(failed ? "partial" : "ok")
                .number("added", added)
                .number("removed", removed)
                .number("changed", changed)
                .number("unchanged", kept)
                .number("failed", failed));
}

Daemon::Daemon(DaemonOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
}

Daemon::~Daemon() = default;

int Daemon::run(config::Config config) {
  State& state = *state_;
  // A reader of the event log that goes away (`tetherd mirror ... | head`, a closed
  // terminal) must not kill the mirror half-way: writes to it fail with EPIPE instead, and
  // the log sink drops their lines. systemd sets the same for the service.
  std::signal(SIGPIPE, SIG_IGN);
  // Likewise a file size limit (LimitFSIZE=, ulimit -f): a write beyond it fails with EFBIG
  // (the copy or the log line fails) instead of killing the daemon.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    state.log = std::make_unique<EventLog>(state.options.log);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "tetherd: %s\n", error.what());
    return exit_code::io_error;
  }
  // Before the pool starts; a user's UV_THREADPOOL_SIZE wins.
  configure_worker_threads();
  state.open_file_limit = raise_open_file_limit();
  if (uv_loop_init(&state.loop) != 0) {
    std::fprintf(stderr, "tetherd: cannot create the event loop\n");
    return exit_code::software;
  }
  state.executor = std::make_unique<stores::UvExecutor>(&state.loop);
  // The event lines of a loop turn go out together, before the loop waits again: a burst
  // of copies costs a few writes, not one per line. Unreferenced: it never keeps the
  // loop alive.
  uv_prepare_init(&state.loop, &state.log_flush);
  state.log_flush.data = &state;
  uv_prepare_start(&state.log_flush, [](uv_prepare_t* handle) noexcept {
    static_cast<State*>(handle->data)->log->flush();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(&state.log_flush));
  state.log->set_batching(true);
  state.notifier =
      std::make_unique<SystemdNotifier>(&state.loop, [&state] { return state.status_line(); });
  if (state.notifier->active()) {
    state.log->set_observer([&state](const Event& event) {
      if (auto text = last_error_text(event, std::chrono::system_clock::now())) {
        state.last_error = std::move(*text);
      }
      state.notifier->status_changed();
    });
  }
  state.config = std::move(config);
  state.log->emit(Event(EventLevel::info, "start")
                      .text("version", core::build_info().version)
                      .number("pid", ::getpid())
                      .number("rules", static_cast<std::int64_t>(state.config.rules.size()))
                      .text("config", state.options.config_path));

  int startup_failure = exit_code::ok;
  for (const auto& rule : state.config.rules) {
    auto made = state.make_rule(rule, state.config);
    if (!made) {
      std::fprintf(stderr, "tetherd: rule '%s': %s\n", rule.name.c_str(),
                   made.error().message().c_str());
      state.log->emit(Event(EventLevel::error, "error").rule(rule.name).error(made.error()));
      state.notifier->status_now("cannot start: rule '" + rule.name +
                                 "': " + made.error().message());
      startup_failure = exit_code_for(made.error());
      break;
    }
    state.rules[rule.name] = State::RunningRule{rule, std::move(*made)};
  }
  if (startup_failure == exit_code::ok && !state.options.socket_path.empty()) {
    state.control = std::make_unique<ControlServer>(
        &state.loop,
        [&state](std::string_view command, std::function<void(std::string)> reply) {
          state.handle_control(command, std::move(reply));
        },
        [&state](const Event& event) { state.log->emit(event); });
    auto listening = state.control->listen(state.options.socket_path);
    if (!listening) {
      std::fprintf(stderr, "tetherd: %s\n", listening.error().message().c_str());
      state.notifier->status_now("cannot start: " + listening.error().message());
      startup_failure = exit_code::unavailable;
    }
  }

  if (startup_failure != exit_code::ok) {
    state.begin_stop(startup_failure);
  } else {
    const int signal_numbers[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; ++i) {
      uv_signal_init(&state.loop, &state.signals[i]);
      state.signals[i].data = &state;
      uv_signal_start(
          &state.signals[i],
          [](uv_signal_t* handle, int signal_number) noexcept {
            auto* owner = static_cast<State*>(handle->data);
            try {
              if (signal_number == SIGHUP) {
                owner->log->reopen();  // logrotate's postrotate: write to the new file
                owner->reload();
              } else {
                owner->begin_stop(exit_code::ok);
              }
            } catch (const std::exception& error) {
              owner->log->emit(Event(EventLevel::error, "error").message(error.what()));
            }
          },
          signal_numbers[i]);
    }
    state.signals_open = true;
    if (state.options.once) {
      state.once_pending = state.rules.size() + 1;
      auto one_finished = [&state] {
        if (--state.once_pending > 0) return;
        bool errors = false;
        for (const auto& [name, running] : state.rules)
          errors |= running.rule->had_errors();
        state.begin_stop(errors ? exit_code::io_error : exit_code::ok);
      };
      for (auto& [name, running] : state.rules)
        running.rule->on_finished(one_finished);
      state.executor->post(one_finished);
    }
    state.log->emit(Event(EventLevel::info, "ready")
                        .number("rules", static_cast<std::int64_t>(state.rules.size()))
                        .text("socket", state.options.socket_path));
    // Every rule's watches are up and its initial reconciliation is queued (start()
    // returned): tell systemd the service is ready.
    state.notifier->ready();
  }

  uv_run(&state.loop, UV_RUN_DEFAULT);
  state.log->set_batching(false);  // what follows is written at once
  uv_close(reinterpret_cast<uv_handle_t*>(&state.log_flush), nullptr);
  state.log->set_observer(nullptr);
  state.notifier.reset();
  state.rules.clear();
  state.stores.clear();
  state.control.reset();
  state.executor.reset();
  uv_run(&state.loop, UV_RUN_DEFAULT);  // lets the closed handles finish
  if (uv_loop_close(&state.loop) != 0) {
    state.log->emit(Event(EventLevel::warn, "stop").message("event loop closed with open handles"));
  }
  state.log->flush();
  return state.exit_code;
}

}  // namespace tetherd::daemon
