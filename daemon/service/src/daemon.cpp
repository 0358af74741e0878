#include "tetherd/service/daemon.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "store_opener.hpp"
#include "store_retries.hpp"
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
#include "tetherd/stores/uv_executor.hpp"

namespace tetherd::daemon {

namespace {

/// Whether a store opened for `a` serves `b` as it is (a credentials file is read at open:
/// a reload with the same path keeps the keys read before).
bool same_backend(const config::StoreConfig& a, const config::StoreConfig& b) {
  return a.backend == b.backend;
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

namespace {

/// The store a rule's target is in: its configuration (implicit for a plain directory).
core::Result<config::StoreConfig> wanted_store(const config::Rule& rule,
                                               const config::Config& from) {
  if (rule.target.implicit_local()) {
    config::StoreConfig wanted;
    wanted.name = rule.target.path;
    wanted.backend = config::LocalStoreConfig{rule.target.path};
    return wanted;
  }
  if (const config::StoreConfig* named = from.find_store(rule.target.store)) return *named;
  return core::StoreError::make(
      core::Errc::InvalidPath,
      "rule '" + rule.name + "' names unknown store '" + rule.target.store + "'");
}

/// A store the rules of a config need, by store key: kept from before or opened anew.
struct OpenedStore {
  config::StoreConfig config;
  core::Result<core::StorePtr> store;
};
using OpenedStores = std::map<std::string, OpenedStore>;

}  // namespace

struct Daemon::State {
  struct RunningRule {
    config::Rule config;
    std::shared_ptr<MirrorRule> rule;
    core::StorePtr store;  ///< the store its target is in (shared by key)
  };

  /// A rule whose store could not be opened yet (its server down or unreachable): it
  /// starts when StoreRetries brings the store.
  struct WaitingRule {
    config::Rule config;
    std::string reason;
  };

  DaemonOptions options;
  uv_loop_t loop{};
  std::unique_ptr<stores::UvExecutor> executor;
  std::unique_ptr<EventLog> log;
  config::Config config;
  /// Open stores by key; also, under "closing:" keys, stores no rule uses any more whose
  /// close waits for the rules that used them to drain.
  std::map<std::string, std::pair<config::StoreConfig, core::StorePtr>> stores;
  std::map<std::string, RunningRule> rules;
  std::map<std::string, WaitingRule> waiting;
  std::unique_ptr<StoreRetries> retries;
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
  /// Rules run (startup finished); before, a SIGHUP is kept for then.
  bool started = false;
  /// A reload is under way (config read, stores opening); another one waits for it.
  bool reloading = false;
  bool reload_again = false;
  /// Stores being opened; the stop closes the stores once none is left.
  std::size_t opens_in_flight = 0;
  std::function<void()> when_opens_done;
  /// How to give up each open under way (by a number of its own): the stop does, rather
  /// than wait for a server that does not answer.
  std::map<std::uint64_t, core::CancelOpen> open_cancels;
  std::uint64_t opens_started = 0;
  std::size_t retired_count = 0;

  /// Opens a store, counted in `opens_in_flight` until `done` has run; cancelled by a stop.
  void open_store(const config::StoreConfig& wanted, core::Callback<core::StorePtr> done);
  /// The open and what comes of it are over: a stop waiting for the opens goes on.
  void open_finished();
  /// Opens what the rules of `from` need: every store key once, an open store kept where
  /// its configuration is unchanged, the others opened at once in parallel. `done` runs on
  /// the loop thread, never inline.
  void open_stores(const config::Config& from, std::function<void(OpenedStores)> done);
  core::Result<std::shared_ptr<MirrorRule>> make_rule(const config::Rule& rule,
                                                      const config::Config& from,
                                                      const OpenedStore& opened);
  /// Startup, once the stores are open: starts every rule, listens, tells systemd.
  void start(OpenedStores opened);
  /// Takes the opened stores into `stores`. A store that a new instance replaces, or that
  /// no rule uses any more, moves to a "closing:" key; returns those keys.
  std::vector<std::string> adopt_stores(OpenedStores& opened);
  /// Stops `draining` (rules taken out of `rules`) and, once all of them have drained,
  /// closes the stores under `closing` (unless the daemon's stop took them first).
  void stop_then_close(std::vector<std::shared_ptr<MirrorRule>> draining,
                       std::vector<std::string> closing);
  /// Live rules whose store failed to open wait instead of failing (true if `rule` now
  /// waits): for the store, tried again after growing pauses, when the error is worth
  /// retrying (a server down, a timeout); for a reload when only someone can fix it (a
  /// refused key or host key, a missing bucket), so that the other rules still run.
  bool wait_for_store(const config::Rule& rule, const OpenedStore& slot);
  /// Pauses `rule` with `error` (not retryable) until the next reload, saying so.
  void pause_until_reload(const config::Rule& rule, const core::StoreError& error);
  /// A retried open of the store under `key` answered.
  void store_answered(const std::string& key, core::Result<core::StorePtr> store);
  void begin_stop(int code);
  void reload();
  void apply_reload(config::Config next, OpenedStores opened);
  void finish_reload();
  void handle_control(std::string_view command, std::function<void(std::string)> reply);
  /// Running and waiting rules, by name.
  std::vector<RuleStatus> rule_statuses() const;
  std::string status_json() const;
  std::string status_line() const;
};

void Daemon::State::open_store(const config::StoreConfig& wanted,
                               core::Callback<core::StorePtr> done) {
  const std::uint64_t id = ++opens_started;
  ++opens_in_flight;
  auto cancel = open_configured_store(
      *executor, wanted, [this, id, done = std::move(done)](core::Result<core::StorePtr> store) {
        open_cancels.erase(id);
        done(std::move(store));
        open_finished();
      });
  // The callback never runs inline, so the open is still under way here.
  if (stopping) return cancel();
  open_cancels.emplace(id, std::move(cancel));
}

void Daemon::State::open_finished() {
  if (--opens_in_flight == 0 && when_opens_done) std::exchange(when_opens_done, nullptr)();
}

void Daemon::State::open_stores(const config::Config& from,
                                std::function<void(OpenedStores)> done) {
  struct Gather {
    OpenedStores opened;
    std::size_t pending = 1;
    std::function<void(OpenedStores)> done;
  };
  auto gather = std::make_shared<Gather>();
  gather->done = std::move(done);
  // The gathering counts in `opens_in_flight` until `done` has run (and put what it got
  // into `stores`), each open until its part is in: a stop waiting for them then closes
  // it all.
  auto one_done = [this, gather] {
    if (--gather->pending == 0) gather->done(std::move(gather->opened));
    open_finished();
  };
  ++opens_in_flight;
  for (const auto& rule : from.rules) {
    const std::string key = store_key_for(rule);
    if (gather->opened.count(key) != 0) continue;
    auto wanted = wanted_store(rule, from);
    if (!wanted) {
      gather->opened.emplace(key, OpenedStore{{}, std::move(wanted).error()});
      continue;
    }
    if (auto it = stores.find(key); it != stores.end() && same_backend(it->second.first, *wanted)) {
      gather->opened.emplace(key, OpenedStore{*wanted, it->second.second});
      continue;
    }
    gather->opened.emplace(
        key, OpenedStore{*wanted, core::StoreError::make(core::Errc::Cancelled, "not opened")});
    ++gather->pending;
    open_store(*wanted, [gather, key](core::Result<core::StorePtr> store) {
      gather->opened.at(key).store = std::move(store);
      if (--gather->pending == 0) gather->done(std::move(gather->opened));
    });
  }
  executor->post(one_done);
}

std::vector<std::string> Daemon::State::adopt_stores(OpenedStores& opened) {
  std::vector<std::string> closing;
  for (auto it = stores.begin(); it != stores.end();) {
    auto now = opened.find(it->first);
    const bool kept =
        now != opened.end() && now->second.store && *now->second.store == it->second.second;
    if (kept || it->first.rfind("closing:", 0) == 0) {
      ++it;
      continue;
    }
    closing.push_back("closing:" + std::to_string(++retired_count));
    stores[closing.back()] = std::move(it->second);
    it = stores.erase(it);
  }
  for (auto& [key, slot] : opened) {
    if (slot.store) stores[key] = {slot.config, *slot.store};
  }
  return closing;
}

void Daemon::State::stop_then_close(std::vector<std::shared_ptr<MirrorRule>> draining,
                                    std::vector<std::string> closing) {
  auto left = std::make_shared<std::size_t>(draining.size() + 1);
  auto one_drained = [this, closing = std::move(closing), left] {
    if (--*left > 0) return;
    for (const auto& key : closing) {
      auto it = stores.find(key);
      if (it == stores.end()) continue;  // the daemon's stop closes it
      core::StorePtr store = it->second.second;
      stores.erase(it);
      store->close([store](core::Result<void>) {});
    }
  };
  for (auto& rule : draining)
    rule->stop(one_drained);
  one_drained();
}

core::Result<std::shared_ptr<MirrorRule>> Daemon::State::make_rule(const config::Rule& rule,
                                                                   const config::Config& from,
                                                                   const OpenedStore& opened) {
  if (rule.symlinks == config::SymlinkMode::Follow) {
    // Following links needs the watcher to watch their targets too; until it does, refuse
    // rather than silently mirror the links themselves.
    return core::StoreError::make(core::Errc::CapabilityNotSupported,
                                  "rule '" + rule.name +
                                      "': \"symlinks\": \"follow\" is not supported by this "
                                      "version; use \"copy\" or \"skip\"");
  }
  if (!opened.store) return opened.store.error();
  core::StorePtr target = *opened.store;
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
  // A local store holds its root directory open, the removed one after an rm -rf or an
  // unmount: while its target root is gone the rule opens a store of its own afresh until
  // the directory is back. Remote stores name their root by path; looking again suffices.
  if (std::holds_alternative<config::LocalStoreConfig>(opened.config.backend)) {
    settings.reopen_target = [executor = executor.get(), store_config = opened.config,
                              within](core::Callback<core::StorePtr> done) {
      open_configured_store(
          *executor, store_config,
          [within, done = std::move(done)](core::Result<core::StorePtr> reopened) {
            if (!reopened || !within) return done(std::move(reopened));
            done((*reopened)->child(*within));
          });
    };
  }
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

void Daemon::State::start(OpenedStores opened) {
  adopt_stores(opened);
  if (stopping) return;  // the stop closes what was opened
  int failure = exit_code::ok;
  for (const auto& rule : config.rules) {
    const OpenedStore& slot = opened.at(store_key_for(rule));
    if (wait_for_store(rule, slot)) continue;
    auto made = make_rule(rule, config, slot);
    if (!made) {
      std::fprintf(stderr, "tetherd: rule '%s': %s\n", rule.name.c_str(),
                   made.error().message().c_str());
      log->emit(Event(EventLevel::error, "error").rule(rule.name).error(made.error()));
      notifier->status_now("cannot start: rule '" + rule.name + "': " + made.error().message());
      failure = exit_code_for(made.error());
      break;
    }
    rules[rule.name] = RunningRule{rule, std::move(*made), *slot.store};
  }
  if (failure == exit_code::ok && !options.socket_path.empty()) {
    control = std::make_unique<ControlServer>(
        &loop,
        [this](std::string_view command, std::function<void(std::string)> reply) {
          handle_control(command, std::move(reply));
        },
        [this](const Event& event) { log->emit(event); });
    auto listening = control->listen(options.socket_path);
    if (!listening) {
      std::fprintf(stderr, "tetherd: %s\n", listening.error().message().c_str());
      notifier->status_now("cannot start: " + listening.error().message());
      failure = exit_code::unavailable;
    }
  }
  if (failure != exit_code::ok) return begin_stop(failure);
  if (options.once) {
    once_pending = rules.size() + 1;
    auto one_finished = [this] {
      if (--once_pending > 0) return;
      bool errors = false;
      for (const auto& [name, running] : rules) {
        const SettleOutcome outcome = running.rule->run_outcome();
        if (outcome.ok) continue;
        errors = true;
        std::fprintf(stderr, "tetherd: %s\n", outcome.problem.c_str());
      }
      begin_stop(errors ? exit_code::io_error : exit_code::ok);
    };
    for (auto& [name, running] : rules)
      running.rule->on_finished(one_finished);
    executor->post(one_finished);
  }
  log->emit(Event(EventLevel::info, "ready")
                .number("rules", static_cast<std::int64_t>(rules.size()))
                .number("waiting", static_cast<std::int64_t>(waiting.size()))
                .text("socket", options.socket_path));
  // Every rule's watches are up and its initial reconciliation is queued (start()
  // returned): tell systemd the service is ready.
  notifier->ready();
  started = true;
  if (reload_again) {
    reload_again = false;
    reload();
  }
}

bool Daemon::State::wait_for_store(const config::Rule& rule, const OpenedStore& slot) {
  if (slot.store || options.once) return false;
  const core::StoreError& error = slot.store.error();
  if (!error.retryable && !core::retryable_by_default(error.code)) {
    pause_until_reload(rule, error);
    return true;
  }
  const std::chrono::milliseconds pause = retries->retry(store_key_for(rule), slot.config);
  std::string reason = "cannot open the store (" + error.message() + "); trying again in " +
                       std::to_string(std::chrono::ceil<std::chrono::seconds>(pause).count()) +
                       " s";
  log->emit(Event(EventLevel::warn, "paused")
                .rule(rule.name)
                .error(error)
                .message(reason + "; the rule starts once the store answers"));
  waiting[rule.name] = WaitingRule{rule, std::move(reason)};
  return true;
}

void Daemon::State::pause_until_reload(const config::Rule& rule, const core::StoreError& error) {
  std::string reason = "cannot open the store (" + error.message() +
                       "); not tried again until the daemon reloads (SIGHUP, systemctl reload)";
  // On the terminal too: someone who just typed the command sees why nothing happens.
  if (!started) std::fprintf(stderr, "tetherd: rule '%s': %s\n", rule.name.c_str(), reason.c_str());
  log->emit(Event(EventLevel::error, "paused").rule(rule.name).error(error).message(reason));
  waiting[rule.name] = WaitingRule{rule, std::move(reason)};
}

void Daemon::State::store_answered(const std::string& key, core::Result<core::StorePtr> store) {
  if (stopping) {
    if (store) stores["closing:" + std::to_string(++retired_count)] = {{}, *store};
    return;
  }
  std::vector<config::Rule> ready;
  for (const auto& [name, rule] : waiting) {
    if (store_key_for(rule.config) == key) ready.push_back(rule.config);
  }
  if (ready.empty()) {
    if (store) (*store)->close([kept = *store](core::Result<void>) {});
    return;
  }
  auto wanted = wanted_store(ready.front(), config);
  if (!wanted) {
    // The config no longer names the store (cannot happen: a reload forgets waiting rules).
    if (store) (*store)->close([kept = *store](core::Result<void>) {});
    return;
  }
  if (!store) {
    const core::StoreError& error = store.error();
    if (!error.retryable && !core::retryable_by_default(error.code)) {
      retries->forget(key);
      for (const auto& rule : ready)
        pause_until_reload(rule, error);
      return;
    }
    const std::chrono::milliseconds pause = retries->retry(key, *wanted);
    for (const auto& rule : ready) {
      std::string reason = "cannot open the store (" + error.message() + "); trying again in " +
                           std::to_string(std::chrono::ceil<std::chrono::seconds>(pause).count()) +
                           " s";
      log->emit(Event(EventLevel::warn, "paused").rule(rule.name).error(error).message(reason));
      waiting[rule.name].reason = std::move(reason);
    }
    return;
  }
  stores[key] = {*wanted, *store};
  const OpenedStore slot{*wanted, *store};
  for (const auto& rule : ready) {
    waiting.erase(rule.name);
    auto made = make_rule(rule, config, slot);
    if (!made) {
      log->emit(Event(EventLevel::error, "error").rule(rule.name).error(made.error()));
      continue;
    }
    rules[rule.name] = RunningRule{rule, std::move(*made), *store};
    log->emit(Event(EventLevel::info, "resumed")
                  .rule(rule.name)
                  .message("store '" + wanted->name + "' answers; the rule starts"));
  }
}

void Daemon::State::begin_stop(int code) {
  if (stopping) return;
  stopping = true;
  if (code != exit_code::ok && exit_code == exit_code::ok) exit_code = code;
  retries->clear();
  waiting.clear();
  // Opens under way answer soon with Cancelled (the stop still waits for those answers).
  for (auto& [id, cancel] : std::exchange(open_cancels, {}))
    cancel();
  log->emit(Event(EventLevel::info, "stop").number("pid", ::getpid()));
  notifier->stopping();
  auto pending = std::make_shared<std::size_t>(rules.size() + 1);
  auto close_all = [this] {
    // Every rule has drained and no store is being opened: close the stores, then the
    // loop's own handles.
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
  auto after_rules = [this, pending, close_all] {
    if (--*pending > 0) return;
    if (opens_in_flight > 0) {
      when_opens_done = close_all;  // what they open joins `stores` first
      return;
    }
    close_all();
  };
  for (auto& [name, running] : rules)
    running.rule->stop(after_rules);
  after_rules();
}

std::vector<RuleStatus> Daemon::State::rule_statuses() const {
  std::vector<RuleStatus> statuses;
  statuses.reserve(rules.size() + waiting.size());
  for (const auto& [name, running] : rules)
    statuses.push_back(running.rule->status());
  for (const auto& [name, rule] : waiting) {
    RuleStatus status;
    status.name = name;
    status.source = rule.config.source.string();
    status.target = rule.config.target.implicit_local()
                        ? rule.config.target.path
                        : rule.config.target.store + ":" + rule.config.target.path;
    status.state = RuleState::paused;
    status.paused_reason = rule.reason;
    statuses.push_back(std::move(status));
  }
  std::sort(statuses.begin(), statuses.end(),
            [](const RuleStatus& a, const RuleStatus& b) { return a.name < b.name; });
  return statuses;
}

std::string Daemon::State::status_line() const {
  return format_status_line(rule_statuses(), last_error);
}

std::string Daemon::State::status_json() const {
  nlohmann::json answer;
  answer["ok"] = true;
  answer["pid"] = ::getpid();
  answer["version"] = core::build_info().version;
  answer["rules"] = nlohmann::json::array();
  for (const RuleStatus& status : rule_statuses()) {
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
    for (const auto& [name, rule] : waiting) {
      ++gather->pending;
      one_done(SettleOutcome{false, "rule '" + name + "' waits for its store: " + rule.reason});
    }
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
  if (!started || reloading) {
    reload_again = true;  // after the startup, or the reload under way
    return;
  }
  reloading = true;
  // systemd sees the reload begin and end (READY=1 again), whether the new config was
  // taken, refused, or the reload failed part-way.
  notifier->reloading();
  // Read and checked on a worker: the checks look at every source and target path.
  auto loaded = std::make_shared<std::optional<config::ConfigResult>>();
  executor->run_blocking(
      [loaded, path = options.config_path] { loaded->emplace(config::load_config(path)); },
      [this, loaded] {
        if (stopping || !*loaded) return finish_reload();
        config::ConfigResult& result = **loaded;
        if (!result.ok()) {
          for (const auto& problem : result.problems) {
            log->emit(
                Event(EventLevel::error, "reload").result("error").message(problem.to_string()));
          }
          log->emit(Event(EventLevel::error, "reload")
                        .result("refused")
                        .message("the new config is invalid; the running config stays in force"));
          return finish_reload();
        }
        auto next = std::make_shared<config::Config>(std::move(*result.config));
        // The running rules go on while the stores of the new config open.
        open_stores(*next, [this, next](OpenedStores opened) {
          apply_reload(std::move(*next), std::move(opened));
          finish_reload();
        });
      });
}

void Daemon::State::finish_reload() {
  reloading = false;
  if (stopping) return;
  try {
    notifier->ready();
  } catch (const std::exception&) {
    // Only the status text failed to build; nothing to tell anyone.
  }
  if (reload_again) {
    reload_again = false;
    reload();
  }
}

void Daemon::State::apply_reload(config::Config next, OpenedStores opened) {
  if (stopping) {
    adopt_stores(opened);  // the stop closes them
    return;
  }
  std::int64_t added = 0, removed = 0, changed = 0, kept = 0, failed = 0, waits = 0;
  // Rules waiting for their store start afresh under the new config: their stores were
  // just tried again, and wait again if they still do not answer.
  retries->clear();
  waiting.clear();

  // Rules that are gone or changed stop; changed and new ones start (on their new stores).
  std::vector<config::Rule> to_start;
  std::vector<std::shared_ptr<MirrorRule>> draining;
  for (auto it = rules.begin(); it != rules.end();) {
    const config::Rule* wanted = nullptr;
    for (const auto& rule : next.rules) {
      if (rule.name == it->first) wanted = &rule;
    }
    bool store_same = false;
    if (wanted) {
      const auto& slot = opened.at(store_key_for(*wanted));
      store_same = slot.store && *slot.store == it->second.store;
    }
    if (wanted && store_same && same_rule(it->second.config, *wanted)) {
      ++kept;
      ++it;
      continue;
    }
    draining.push_back(it->second.rule);
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
  stop_then_close(std::move(draining), adopt_stores(opened));
  for (const auto& rule : to_start) {
    const OpenedStore& slot = opened.at(store_key_for(rule));
    if (wait_for_store(rule, slot)) {
      ++waits;
      continue;
    }
    auto made = make_rule(rule, next, slot);
    if (!made) {
      ++failed;
      log->emit(
          Event(EventLevel::error, "reload").rule(rule.name).result("error").error(made.error()));
      continue;
    }
    rules[rule.name] = RunningRule{rule, std::move(*made), *slot.store};
  }
  config = std::move(next);
  log->emit(Event(failed ? EventLevel::warn : EventLevel::info, "reload")
                .result(failed ? "partial" : "ok")
                .number("added", added)
                .number("removed", removed)
                .number("changed", changed)
                .number("unchanged", kept)
                .number("waiting", waits)
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
  state.retries = std::make_unique<StoreRetries>(
      *state.executor,
      [&state](const config::StoreConfig& wanted, core::Callback<core::StorePtr> done) {
        // Counted like the other opens: a stop waits for the attempt, then closes its store.
        state.open_store(wanted, std::move(done));
      },
      [&state](const std::string& key, core::Result<core::StorePtr> store) {
        state.store_answered(key, std::move(store));
      });
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

  // Signals first: a SIGTERM while the stores open (a remote one may take a while) stops
  // the daemon; a SIGHUP is kept for when the rules run.
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
  state.open_stores(state.config,
                    [&state](OpenedStores opened) { state.start(std::move(opened)); });

  uv_run(&state.loop, UV_RUN_DEFAULT);
  state.log->set_batching(false);  // what follows is written at once
  uv_close(reinterpret_cast<uv_handle_t*>(&state.log_flush), nullptr);
  state.log->set_observer(nullptr);
  state.notifier.reset();
  state.rules.clear();
  state.stores.clear();
  state.control.reset();
  state.retries.reset();
  state.executor.reset();
  uv_run(&state.loop, UV_RUN_DEFAULT);  // lets the closed handles finish
  if (uv_loop_close(&state.loop) != 0) {
    state.log->emit(Event(EventLevel::warn, "stop").message("event loop closed with open handles"));
  }
  state.log->flush();
  return state.exit_code;
}

}  // namespace tetherd::daemon
