// Deterministic simulation of one mirror rule: the real engine (MirrorRule, planner,
// reconciler, index) driven by a seeded generator through an in-memory source, a
// simulated watcher, the memory store and a single-threaded executor whose order of
// completions, timers and clock the seed decides. Each seed applies random changes to the
// source (files written whole or left open, appends, mkdir, rm -r, renames of files and
// directories, renames into directories not watched yet, chmod, symlinks), interleaved
// with watcher batches of random sizes, queue overflows, store faults, and restarts of the
// rule (graceful, or a crash that drops everything in flight) with changes made while it
// is down. Seeds vary the rule and the target too: exclude patterns, a target that keeps
// whole-second mtimes (as SFTP does), one without MOVE (copy + delete), one without
// symlinks. Then it settles and requires the target to equal what the rule mirrors of the
// source exactly: types, contents, modes, mtimes (at the target's precision), link texts.
// At every step the target may hold only contents the source really had (nothing torn).
//
// One seed in three also varies what the rule may delete and remember (a choice drawn from
// its own generator, so the other seeds replay as before): the delete mode (never,
// "startup", "running"), the mass-delete guard (max_delete_percent 20 to 90) and the
// target listing cache (saved at each graceful stop, loaded at the next start). Where the
// mode keeps deletions back, the target must hold every source entry exactly, unless a
// type change the mode did not let through stands in its way, and files only with contents
// the source once had; "running" without restarts, and "startup" after one more restart, must
// be exact. A settle that finds the rule paused by the guard is what the guard is for:
// the check then raises the guard to 100, restarts as an operator would, and requires the
// target exact after the next settle.
//
// TETHERD_SIM_SEEDS=first:count runs other seeds (default 1:20000, about 10 s; the sanitizer
// build 3,000). A failing seed prints the line that replays it alone.

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/memory_source_tree.hpp"
#include "sim/sim_executor.hpp"
#include "sim/sim_watcher.hpp"
#include "tetherd/core/path_filter.hpp"
#include "tetherd/engine/mirror_rule.hpp"
#include "tetherd/stores/memory_store.hpp"

namespace {

using namespace tetherd;
using sim::MemorySourceTree;
using sim::SimExecutor;
using sim::SimWatcher;

/// Keeps the last events for a failure's report.
class RecentEvents final : public daemon::EventSink {
 public:
  void emit(const daemon::Event& event) override {
    if (trace_) std::fprintf(stderr, "  event %s\n", event.to_json().c_str());
    lines_.push_back(event.to_json());
    if (lines_.size() > 80) lines_.pop_front();
  }
  bool wanted(daemon::EventLevel level) const noexcept override {
    return trace_ || level >= daemon::EventLevel::info;
  }
  std::string text() const {
    std::string out;
    for (const auto& line : lines_)
      out += "  " + line + "\n";
    return out;
  }

 private:
  std::deque<std::string> lines_;
  /// TETHERD_SIM_TRACE=1: every event, debug ones included, as it happens.
  bool trace_ = std::getenv("TETHERD_SIM_TRACE") != nullptr;
};

struct TargetEntry {
  core::EntryInfo info;
  std::string content;
};

/// What a seed's rule may delete and remember: drawn from a generator of its own, so that
/// choosing it leaves the scenario of the seeds that keep the defaults unchanged.
struct RuleVariant {
  config::DeleteMode delete_mode = config::DeleteMode::Always;
  int max_delete_percent = 100;
  bool listing_cache = false;

  static RuleVariant of_seed(std::uint64_t seed) {
    std::mt19937_64 random(seed * 0x9E3779B97F4A7C15ull + 0x5851F42D4C957F2Dull);
    RuleVariant variant;
    if (random() % 3 != 0) return variant;
    const config::DeleteMode modes[] = {config::DeleteMode::Always, config::DeleteMode::Never,
                                        config::DeleteMode::Startup, config::DeleteMode::Running};
    variant.delete_mode = modes[random() % 4];
    if (random() % 2 == 0) variant.max_delete_percent = 20 + static_cast<int>(random() % 71);
    variant.listing_cache = random() % 2 == 0;
    return variant;
  }
  std::string describe() const {
    std::string text;
    if (delete_mode != config::DeleteMode::Always) {
      text += std::string(" delete ") + std::string(config::to_string(delete_mode));
    }
    if (max_delete_percent < 100) text += " guard " + std::to_string(max_delete_percent) + "%";
    if (listing_cache) text += " listing cache";
    return text;
  }
};

class Simulation {
 public:
  explicit Simulation(std::uint64_t seed)
      : seed_(seed),
        random_(seed),
        variant_(RuleVariant::of_seed(seed)),
        executor_(random_),
        tree_(std::make_shared<MemorySourceTree>(executor_, random_)),
        store_(open_target()) {
    guard_percent_ = variant_.max_delete_percent;
    if (variant_.listing_cache) {
      cache_file_ = (cache_directory() / ("seed-" + std::to_string(seed) + ".bin")).string();
      remove_cache_files();
    }
  }
  ~Simulation() { remove_cache_files(); }
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  /// Runs the seed; returns "" when the target equals the source, else what differs.
  std::string run() {
    // One seed in four stamps times in 4 ms ticks, as ext4 without fine-grained
    // timestamps does: a same-size rewrite within a tick leaves the stat as it was. Those
    // seeds (and those of a target with whole-second mtimes) neither restart nor overflow: a walk
    // compares size and mtime, as rsync's quick check does, and cannot see such a rewrite when its
    // event is lost (a documented limit); live, the write's event makes a racy copy be taken again.
    coarse_ = pick(4) == 0;
    if (coarse_) tree_->set_time_granularity(4'000'000);
    if (coarse_ || whole_second_target_) {
      // These seeds never restart (see below): no guard to restart past, and no restart
      // for deletions kept back until the next start.
      variant_.max_delete_percent = guard_percent_ = 100;
      if (variant_.delete_mode == config::DeleteMode::Startup) {
        variant_.delete_mode = config::DeleteMode::Running;
      }
    }
    choose_exclude();
    note(std::string("variant:") + (coarse_ ? " 4 ms source ticks" : "") +
         (whole_second_target_ ? " whole-second target" : "") +
         (store_->capabilities().has(core::Capability::Move) ? "" : " no MOVE") +
         (symlinks_kept_ ? "" : " no SYMLINK") +
         (exclude_.empty() ? "" : " excluding " + exclude_.front()) + variant_.describe());
    const int operations = 20 + static_cast<int>(pick(60));
    for (int i = 0, before = static_cast<int>(pick(8)); i < before; ++i)
      change_source();
    tree_->forget_events();
    start_rule();
    for (int i = 0; i < operations; ++i) {
      switch (pick(12)) {
        case 0:
        case 1:
        case 2:
        case 3:
          change_source();
          break;
        case 4:
          watcher_->deliver(1 + pick(6));
          break;
        case 5:
          advance(std::chrono::milliseconds(pick(300)));
          break;
        case 6:
          if (!coarse_ && !whole_second_target_ && pick(15) == 0) {
            note("overflow");
            tree_->overflow();
          }
          break;
        case 7:
          if (pick(6) == 0) inject_fault();
          break;
        case 8:
          // A walk after a restart compares size and mtime at the coarser of the two
          // clocks: a same-size file written, or renamed over another, within one tick of
          // it is not seen then (rsync's quick-check limit, documented). Live, the index
          // knows each copy's inode and exact mtime and sees it.
          if (coarse_ || whole_second_target_) break;
          // A listing cache is saved by a graceful stop and used by the next start: those
          // seeds restart more often.
          if (pick(variant_.listing_cache ? 3 : 12) == 0) {
            restart();
          } else if (pick(12) == 0) {
            crash();
          }
          break;
        default:
          steps(1 + pick(30));
          break;
      }
      if (auto torn = torn_file(); !torn.empty()) return torn;
    }
    note("settle");
    std::string problem = settle_past_guard();
    if (!problem.empty() && variant_.delete_mode != config::DeleteMode::Always) {
      // A type change the mode kept back may be on its way to being fixed by a later
      // change (its work newer than the settle call): settle again, then judge.
      note("settle failed, again: " + problem);
      problem = settle_past_guard();
    }
    if (!problem.empty() && variant_.delete_mode != config::DeleteMode::Always &&
        type_change_kept_back()) {
      // Settle reports the type change the mode keeps back; the rest is checked below.
      note("settle reports a type change kept back: " + problem);
      problem.clear();
    }
    if (problem.empty()) problem = check_target();
    finish_crashed_work();
    return problem;
  }

  std::string events() const { return events_.text(); }

 private:
  std::size_t pick(std::size_t bound) { return executor_.pick(bound); }

  /// The target: one seed in eight keeps whole-second mtimes, one in eight has no MOVE
  /// (the engine copies and deletes), one in eight no symlinks; the rest the full set.
  std::shared_ptr<stores::MemoryStore> open_target() {
    stores::MemoryStoreOptions options;
    core::CapabilitySet capabilities = stores::full_memory_capabilities();
    switch (random_() % 8) {
      case 0:
        capabilities.mtime_precision = std::chrono::seconds(1);
        whole_second_target_ = true;
        break;
      case 1:
        capabilities.remove(core::Capability::Move);
        capabilities.remove(core::Capability::AtomicMove);
        break;
      case 2:
        capabilities.remove(core::Capability::Symlink);
        symlinks_kept_ = false;
        break;
      default:
        break;
    }
    // The memory store stamps new entries with the wall clock itself: no skew, so that
    // the listing cache records what it lists (a second's racy window would record
    // nothing in a run this short).
    if (variant_.listing_cache) capabilities.mtime_clock_skew = std::chrono::nanoseconds(0);
    options.capabilities = capabilities;
    return stores::open_memory_store(executor_, options);
  }

  /// One seed in three excludes some names (the generator uses "a" to "f").
  void choose_exclude() {
    static const std::vector<std::vector<std::string>> choices = {
        {"c"}, {"/b"}, {"c", "/e"}, {"**/d/**"}};
    if (pick(3) == 0) exclude_ = choices[pick(choices.size())];
    filter_ = std::make_unique<core::PathFilter>(std::vector<std::string>{}, exclude_);
  }

  /// Whether the rule mirrors the source's `path` (settle cookies are the rule's own).
  bool mirrored(const std::string& path, core::EntryType type) const {
    if (path.empty() || daemon::is_settle_cookie(path)) return false;
    if (type == core::EntryType::Symlink && !symlinks_kept_) return false;
    return filter_->includes(path, type == core::EntryType::Directory);
  }

  /// The source's mtime as the target keeps it.
  std::chrono::nanoseconds kept_mtime(std::int64_t mtime_ns) const {
    const std::chrono::nanoseconds mtime(mtime_ns);
    if (!whole_second_target_) return mtime;
    return mtime - mtime % std::chrono::seconds(1);
  }

  daemon::RuleSettings settings() {
    daemon::RuleSettings settings;
    settings.exclude = exclude_;
    settings.name = "sim";
    settings.source = tree_->root();
    settings.target = store_;
    settings.target_label = "memory";
    settings.delete_mode = variant_.delete_mode;
    settings.max_delete_percent = guard_percent_;
    if (!cache_file_.empty()) {
      settings.listing_cache_file = cache_file_;
      settings.listing_cache_context = "sim";
    }
    settings.delay = std::chrono::milliseconds(pick(3) == 0 ? 20 : 0);
    settings.max_in_flight = 1 + pick(8);
    settings.open_source = [tree = tree_](const std::string&) {
      return core::Result<std::shared_ptr<daemon::SourceTree>>(
          std::shared_ptr<daemon::SourceTree>(tree));
    };
    settings.make_watcher = [this](watchers::WatcherOptions options) {
      auto watcher = std::make_unique<SimWatcher>(tree_, std::move(options));
      watcher_ = watcher.get();
      return std::unique_ptr<watchers::Watcher>(std::move(watcher));
    };
    return settings;
  }

  void start_rule() {
    rule_ = std::make_shared<daemon::MirrorRule>(nullptr, executor_, events_, settings());
    auto started = rule_->start();
    REQUIRE_MESSAGE(static_cast<bool>(started), "seed " << seed_ << ": the rule did not start");
  }

  /// A graceful restart: the rule stops (what is in flight completes), the source changes
  /// while nobody watches, and a new rule (empty memory) starts with a full reconciliation.
  void restart(bool change_while_down = true) {
    note("restart: stopping");
    restarted_ = true;
    bool stopped = false;
    rule_->stop([&stopped] { stopped = true; });
    run_until([&] { return stopped; });
    rule_.reset();
    watcher_ = nullptr;
    for (int i = 0, down = change_while_down ? static_cast<int>(pick(6)) : 0; i < down; ++i)
      change_source();
    tree_->forget_events();
    note("restart: starting");
    start_rule();
  }

  void note(const std::string& what) const {
    if (std::getenv("TETHERD_SIM_TRACE")) std::fprintf(stderr, "sim: %s\n", what.c_str());
  }

  /// kill -9: whatever was queued, in flight or waiting on a timer never completes (a
  /// store operation may have taken effect without the rule hearing of it). The source
  /// changes while nobody watches; a new rule starts from nothing.
  void crash() {
    note("crash");
    restarted_ = true;
    crashed_.push_back(executor_.freeze());
    rule_.reset();
    watcher_ = nullptr;
    for (int i = 0, down = static_cast<int>(pick(6)); i < down; ++i)
      change_source();
    tree_->forget_events();
    start_rule();
  }

  /// After the checks: what the crashes set aside runs to its end (the dead rules it
  /// belongs to act no more on what was checked), so that nothing stays allocated.
  void finish_crashed_work() {
    rule_.reset();
    watcher_ = nullptr;
    store_->clear_faults();
    for (auto& frozen : crashed_)
      executor_.thaw(std::move(frozen));
    crashed_.clear();
    for (int i = 0; i < 1'000'000 && executor_.step(); ++i) {
    }
  }

  void inject_fault() {
    stores::Fault fault;
    fault.kind = stores::Fault::Kind::Fail;
    fault.skip = static_cast<std::uint32_t>(pick(4));
    fault.times = 1 + static_cast<std::uint32_t>(pick(2));
    const core::Errc kinds[] = {core::Errc::Unavailable, core::Errc::Timeout, core::Errc::NoSpace};
    fault.error = core::StoreError::make(kinds[pick(3)], "injected fault");
    fault.error.retryable = fault.error.code != core::Errc::NoSpace;
    // Any operation the engine uses (reads are the checks' own).
    const core::Operation operations[] = {
        core::Operation::Stat,  core::Operation::List,     core::Operation::Write,
        core::Operation::Move,  core::Operation::Remove,   core::Operation::Mkdir,
        core::Operation::Rmdir, core::Operation::SetAttrs, core::Operation::Symlink};
    fault.operation = operations[pick(std::size(operations))];
    note("fault: " + fault.error.message() + " on operation " +
         std::to_string(static_cast<int>(*fault.operation)) + " after " +
         std::to_string(fault.skip));
    store_->inject(fault);
  }

  void steps(std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
      if (!executor_.step()) return;
    }
  }
  void advance(std::chrono::milliseconds by) {
    executor_.advance(by);
    steps(5);
  }
  /// Steps (delivering the watcher's batches too) until `done` or the budget runs out.
  template <typename Done>
  bool run_until(Done done, std::size_t budget = 400'000) {
    for (std::size_t i = 0; i < budget && !done(); ++i) {
      if (watcher_ && pick(4) == 0 && watcher_->deliver(1 + pick(8))) continue;
      if (!executor_.step()) {
        if (watcher_ && watcher_->deliver(64)) continue;
        return done();
      }
    }
    return done();
  }

  std::string settle() {
    std::optional<daemon::SettleOutcome> outcome;
    rule_->settle([&outcome](daemon::SettleOutcome result) { outcome = std::move(result); });
    if (!run_until([&] { return outcome.has_value(); })) return "settle never completed\n";
    if (!outcome->ok) return "settle failed: " + outcome->problem + "\n";
    return "";
  }

  // ---- Changes to the source ----

  std::string token() { return "seed" + std::to_string(seed_) + "." + std::to_string(++tokens_); }

  std::vector<std::string> paths_of(core::EntryType type) const {
    std::vector<std::string> found;
    for (const auto& [path, node] : tree_->nodes()) {
      if (path.empty() || daemon::is_settle_cookie(path)) continue;
      if (node.type == type) found.push_back(path);
    }
    return found;
  }
  std::string any_directory() {
    auto dirs = paths_of(core::EntryType::Directory);
    dirs.push_back("");
    return dirs[pick(dirs.size())];
  }
  std::string new_name_in(const std::string& dir) {
    static const char* const names[] = {"a", "b", "c", "d", "e", "f"};
    const std::string name = names[pick(6)];
    return dir.empty() ? name : dir + "/" + name;
  }
  template <typename T>
  const T& one_of(const std::vector<T>& items) {
    return items[pick(items.size())];
  }

  void change_source() {
    const auto files = paths_of(core::EntryType::File);
    const auto dirs = paths_of(core::EntryType::Directory);
    switch (pick(11)) {
      case 0:
      case 1: {  // a new file, closed at once or left open
        const std::string path = new_name_in(any_directory());
        if (tree_->exists(path)) return;
        const bool closed = pick(5) != 0;
        tree_->create_file(path, token(), closed);
        if (!closed) open_.insert(path);
        return;
      }
      case 2: {  // overwrite or append, closed or left open
        if (files.empty()) return;
        const std::string& path = one_of(files);
        const std::string content =
            pick(2) == 0 ? token() : tree_->node(path)->content + "+" + token();
        const bool closed = pick(4) != 0;
        tree_->write_file(path, content, closed);
        if (closed) {
          open_.erase(path);
        } else {
          open_.insert(path);
        }
        return;
      }
      case 3: {  // a writer closes its file
        if (open_.empty()) return;
        auto it = open_.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(pick(open_.size())));
        if (tree_->exists(*it)) tree_->close_file(*it);
        open_.erase(it);
        return;
      }
      case 4: {  // mkdir; now and then the watcher is slow to watch it (events inside it
                 // are lost: not in coarse seeds, as for overflows)
        const std::string path = new_name_in(any_directory());
        if (tree_->exists(path)) return;
        tree_->make_directory(path);
        if (!coarse_ && pick(3) == 0) {
          note("not watched yet: " + path);
          tree_->unwatched(path);
        }
        return;
      }
      case 5: {  // rm
        if (files.empty()) return;
        const std::string& path = one_of(files);
        note("rm " + path);
        tree_->remove(path);
        open_.erase(path);
        return;
      }
      case 6: {  // rm -r
        if (dirs.empty()) return;
        const std::string& dir = one_of(dirs);
        note("rm -r " + dir);
        tree_->remove(dir);
        return;
      }
      case 7:
      case 8: {  // mv of a file or a directory, possibly over a file
        std::vector<std::string> movable = files;
        movable.insert(movable.end(), dirs.begin(), dirs.end());
        if (movable.empty()) return;
        const std::string from = one_of(movable);
        const std::string to = new_name_in(any_directory());
        if (to == from || to.starts_with(from + "/")) return;
        const bool from_dir = tree_->node(from)->type == core::EntryType::Directory;
        if (const auto* existing = tree_->node(to)) {
          // rename(2) replaces a file by a file; anything else fails, so it is not tried.
          if (from_dir || existing->type != core::EntryType::File) return;
        }
        note("mv " + from + " " + to);
        tree_->rename(from, to);
        open_.erase(from);
        return;
      }
      case 9: {  // chmod
        std::vector<std::string> all = files;
        all.insert(all.end(), dirs.begin(), dirs.end());
        if (all.empty()) return;
        const std::string& path = one_of(all);
        const bool dir = tree_->node(path)->type == core::EntryType::Directory;
        tree_->change_mode(path, dir ? (pick(2) ? 0750u : 0755u) : (pick(2) ? 0600u : 0644u));
        return;
      }
      default: {  // a symlink
        const std::string path = new_name_in(any_directory());
        if (tree_->exists(path)) return;
        tree_->make_symlink(path, "target-" + token());
        return;
      }
    }
  }

  // ---- Checks ----

  /// The whole target; a listing an injected fault cut short is taken again.
  std::map<std::string, TargetEntry> target() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (auto found = try_target()) return std::move(*found);
    }
    FAIL("seed " << seed_ << ": the target could not be listed");
    return {};
  }

  std::optional<std::map<std::string, TargetEntry>> try_target() {
    std::map<std::string, TargetEntry> found;
    bool listed = false;
    core::ListOptions options;
    options.recursive = true;
    core::EntryStreamPtr stream;
    std::optional<core::StoreError> failure;
    store_->list(core::StoreKey::root(), options, [&](core::Result<core::EntryStreamPtr> opened) {
      if (opened) {
        stream = *opened;
      } else {
        failure = opened.error();
      }
      listed = true;
    });
    run_until([&] { return listed; });
    if (failure || !stream) return std::nullopt;
    for (bool more = true; more;) {
      bool got = false;
      bool failed = false;
      stream->next([&](core::Result<std::vector<core::EntryInfo>> batch) {
        got = true;
        if (!batch) {
          failed = true;
          return;
        }
        if (batch->empty()) more = false;
        for (auto& info : *batch)
          found[info.key.str()] = TargetEntry{info, {}};
      });
      run_until([&] { return got; });
      if (!got || failed) return std::nullopt;
    }
    for (auto& [path, entry] : found) {
      if (entry.info.type != core::EntryType::File) continue;
      // The engine runs while the checks read: a file may go between listing and reading.
      auto content = read_target(entry.info.key);
      if (!content) return std::nullopt;
      entry.content = std::move(*content);
    }
    return found;
  }

  std::optional<std::string> read_target(const core::StoreKey& key) {
    core::ByteSourcePtr source;
    bool opened = false;
    store_->read(key, core::ReadRange{}, [&](core::Result<core::ByteSourcePtr> result) {
      if (result) source = *result;
      opened = true;
    });
    run_until([&] { return opened; });
    if (!source) return std::nullopt;
    std::string content;
    for (bool more = true; more;) {
      bool got = false;
      bool failed = false;
      source->read(1 << 16, [&](core::Result<core::Bytes> chunk) {
        got = true;
        if (!chunk) {
          failed = true;
          return;
        }
        if (chunk->empty()) more = false;
        content += core::bytes_to_string(*chunk);
      });
      run_until([&] { return got; });
      if (!got || failed) return std::nullopt;
    }
    return content;
  }

  /// A file on the target whose content the source never had: a torn or mixed write.
  std::string torn_file() {
    if (pick(8) != 0) return "";  // the target is read now and then: reading takes steps
    for (const auto& [path, entry] : target()) {
      if (entry.info.type == core::EntryType::File &&
          !tree_->contents_ever().count(entry.content)) {
        return "torn file on the target: " + path + " holds '" + entry.content + "'";
      }
    }
    return "";
  }

  // ---- The variants' checks ----

  /// Settles; a rule the mass-delete guard paused is what the guard is for: the operator
  /// raises the guard and restarts, and the settle after must succeed.
  std::string settle_past_guard() {
    std::string problem = settle();
    if (problem.empty() || guard_percent_ >= 100) return problem;
    if (rule_->status().state != daemon::RuleState::paused) return problem;
    note("the guard paused the rule: raising it and restarting");
    guard_percent_ = 100;
    restart(false);
    return settle();
  }

  std::string check_target() {
    switch (variant_.delete_mode) {
      case config::DeleteMode::Always:
        return compare();
      case config::DeleteMode::Running:
        // Only deletions made while the rule was down are kept back.
        return restarted_ ? compare_kept_back() : compare();
      case config::DeleteMode::Never:
        return compare_kept_back();
      case config::DeleteMode::Startup: {
        // Live deletions are kept back until the next start, which makes it exact.
        if (auto problem = compare_kept_back(); !problem.empty()) return problem;
        note("startup: restarting for the deletions kept back");
        restart(false);
        if (auto problem = settle_past_guard(); !problem.empty()) return problem;
        return compare();
      }
    }
    return "unknown delete mode\n";
  }

  /// Whether the target has another type than the source at a path the rule mirrors.
  bool type_change_kept_back() {
    const auto found = target();
    for (const auto& [path, node] : tree_->nodes()) {
      if (!mirrored(path, node.type)) continue;
      auto it = found.find(path);
      if (it != found.end() && it->second.info.type != node.type) return true;
    }
    return false;
  }

  /// For a rule that keeps deletions back: every mirrored source entry is on the target
  /// exactly, unless a type change kept back (the target has another type there or above)
  /// stands in its way.
  std::string compare_kept_back() {
    std::ostringstream problems;
    auto found = target();
    const auto blocked = [&](const std::string& path) {
      for (std::string at = path;;) {
        const auto* source = tree_->node(at);
        auto it = found.find(at);
        if (source && it != found.end() && it->second.info.type != source->type) return true;
        const auto slash = at.rfind('/');
        if (slash == std::string::npos) return false;
        at.resize(slash);
      }
    };
    for (const auto& [path, node] : tree_->nodes()) {
      if (!mirrored(path, node.type)) continue;
      auto it = found.find(path);
      if (it == found.end() || it->second.info.type != node.type) {
        if (!blocked(path)) problems << "missing on the target: " << path << "\n";
        continue;
      }
      problems << entry_differences(path, node, it->second);
    }
    // What else the target holds was kept back: it may have moved with its directory (a
    // rename, or a removal and a creation the engine paired by inode), but a file holds
    // only what the source once had.
    for (const auto& [path, entry] : found) {
      if (entry.info.type == core::EntryType::File &&
          !tree_->contents_ever().count(entry.content)) {
        problems << "on the target, never in the source: " << path << " holds '" << entry.content
                 << "'\n";
      }
    }
    return problems.str();
  }

  void remove_cache_files() {
    if (cache_file_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(cache_file_, ignored);
    std::filesystem::remove(cache_file_ + ".in-use", ignored);
  }
  static std::filesystem::path cache_directory() {
    std::error_code ignored;
    auto base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                          : std::filesystem::temp_directory_path();
    auto dir = base / ("tetherd-sim-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir, ignored);
    return dir;
  }

  /// How the target's copy of a source entry of the same type differs from it.
  std::string entry_differences(const std::string& path, const sim::SourceNode& node,
                                const TargetEntry& entry) const {
    std::ostringstream problems;
    const core::EntryInfo& info = entry.info;
    if (node.type == core::EntryType::File) {
      if (entry.content != node.content) {
        problems << "content differs: " << path << ": '" << entry.content << "' vs '"
                 << node.content << "'\n";
      }
      if (!info.mtime || info.mtime->time_since_epoch() != kept_mtime(node.mtime_ns)) {
        problems << "mtime differs: " << path << "\n";
      }
    } else if (node.type == core::EntryType::Symlink) {
      if (info.link_target != node.content) problems << "link differs: " << path << "\n";
    }
    if (node.type != core::EntryType::Symlink && info.mode != node.mode) {
      problems << "mode differs: " << path << " " << std::oct << info.mode.value_or(0) << " vs "
               << node.mode << std::dec << "\n";
    }
    return problems.str();
  }

  std::string compare() {
    std::ostringstream problems;
    auto found = target();
    for (const auto& [path, node] : tree_->nodes()) {
      if (!mirrored(path, node.type)) continue;
      auto it = found.find(path);
      if (it == found.end()) {
        problems << "missing on the target: " << path << "\n";
        continue;
      }
      if (it->second.info.type != node.type) {
        problems << "type differs: " << path << "\n";
      } else {
        problems << entry_differences(path, node, it->second);
      }
      found.erase(it);
    }
    for (const auto& [path, entry] : found)
      problems << "extra on the target: " << path << "\n";
    return problems.str();
  }

  std::uint64_t seed_;
  std::mt19937_64 random_;
  RuleVariant variant_;
  int guard_percent_ = 100;
  std::string cache_file_;
  bool restarted_ = false;
  SimExecutor executor_;
  std::shared_ptr<MemorySourceTree> tree_;
  bool whole_second_target_ = false;
  bool symlinks_kept_ = true;
  std::vector<std::string> exclude_;
  std::unique_ptr<core::PathFilter> filter_;
  std::shared_ptr<stores::MemoryStore> store_;
  RecentEvents events_;
  std::shared_ptr<daemon::MirrorRule> rule_;
  SimWatcher* watcher_ = nullptr;
  std::set<std::string> open_;
  bool coarse_ = false;
  std::vector<SimExecutor::Frozen> crashed_;
  std::uint64_t tokens_ = 0;
};

std::pair<std::uint64_t, std::uint64_t> seed_range() {
  std::uint64_t first = 1;
#if defined(__SANITIZE_ADDRESS__)
  std::uint64_t count = 3000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  std::uint64_t count = 3000;
#else
  std::uint64_t count = 20000;
#endif
#else
  std::uint64_t count = 20000;
#endif
  if (const char* text = std::getenv("TETHERD_SIM_SEEDS")) {
    unsigned long long a = 0, b = 0;
    if (std::sscanf(text, "%llu:%llu", &a, &b) == 2) {
      first = a;
      count = b;
    }
  }
  return {first, count};
}

// Runs one seed; false (with its story) when the target differs from the source after
// settle.
bool run_seed(std::uint64_t seed) {
  Simulation simulation(seed);
  const std::string problem = simulation.run();
  if (problem.empty()) return true;
  MESSAGE("seed " << seed << " diverged:\n"
                  << problem << "last events:\n"
                  << simulation.events() << "replay: TETHERD_SIM_SEEDS=" << seed
                  << ":1 build/default/tests/engine/engine_tests -tc='simulation*'");
  return false;
}

}  // namespace

TEST_CASE("simulation: after settle the target equals the source, whatever the interleaving") {
  const auto [first, count] = seed_range();
  std::uint64_t failed = 0;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    if (!run_seed(seed)) ++failed;
    if (failed >= 3) break;
  }
  CHECK_MESSAGE(failed == 0, failed << " seed(s) diverged");
}

TEST_CASE("simulation: seeds that once diverged stay exact") {
  // Each found a divergence, and diverged again with its fix taken out, with the scenario
  // generator of its time: a stale listing hint used after a rename or removal (158301,
  // 198442, 237544), a write reported after a racy copy lost across renames (667547,
  // 795493), a child copied under a file the source had replaced with a directory, before
  // its parent (724042); with the current generator (which also varies excludes and the
  // target's capabilities), a directory left on a target that cannot hold the symlink the
  // source now has there (258), and an edit within the second of its copy hidden by a
  // walk on a whole-second target (56346, 157450). A change to the generator maps seeds to
  // other scenarios: then the older ones are merely more random cases.
  std::uint64_t failed = 0;
  for (const std::uint64_t seed :
       {158301, 198442, 237544, 667547, 795493, 724042, 258, 56346, 157450}) {
    if (!run_seed(seed)) ++failed;
  }
  CHECK_MESSAGE(failed == 0, failed << " seed(s) diverged");
}
