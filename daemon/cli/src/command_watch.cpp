// `tetherd watch PATH... [--json] [--exclude GLOB]... [--poll] [--poll-interval MS]`:
// prints filesystem events as they happen, one per line, until SIGINT/SIGTERM (exit 0).
// An inotifywait -m -r replacement that survives overflow, renames and the watch limit.

#include <sys/stat.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stdout_stream.hpp"
#include "tetherd/cli/cli.hpp"
#include "tetherd/core/change.hpp"
#include "tetherd/core/path_filter.hpp"
#include "tetherd/core/text.hpp"
#include "tetherd/watchers/watcher.hpp"

namespace tetherd::daemon {
namespace {

struct WatchOptions {
  std::vector<std::string> paths;
  std::vector<std::string> excludes;
  bool json = false;
  bool poll = false;
  int poll_interval_ms = 1000;
};

// "2026-11-22T15:04:08.255Z"
std::string utc_timestamp() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  std::tm parts{};
  ::gmtime_r(&now.tv_sec, &parts);
  char text[40];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::snprintf(text + length, sizeof text - length, ".%03ldZ", now.tv_nsec / 1'000'000);
  return text;
}

// Adds `"name":"..."` for a path, plus `"name_base64"` with the exact bytes when the path is
// not valid UTF-8 (the JSON stays valid; see docs/ARCHITECTURE.md).
void append_json_path(std::string& line, std::string_view name, std::string_view bytes) {
  line += ',';
  line += core::json_quote(name);
  line += ':';
  if (core::is_valid_utf8(bytes)) {
    line += core::json_quote(bytes);
    return;
  }
  line += core::json_quote(core::utf8_lossy(bytes));
  line += ',';
  line += core::json_quote(std::string(name) + "_base64");
  line += ':';
  line += core::json_quote(core::base64_encode(bytes));
}

std::string_view human_verb(core::ChangeKind kind) {
  switch (kind) {
    case core::ChangeKind::created:
      return "CREATE";
    case core::ChangeKind::modified:
      return "MODIFY";
    case core::ChangeKind::attrib:
      return "ATTRIB";
    case core::ChangeKind::removed:
      return "DELETE";
    case core::ChangeKind::moved:
      return "MOVE";
    case core::ChangeKind::rescan:
      return "RESCAN";
    case core::ChangeKind::root_gone:
      return "ROOT_GONE";
  }
  return "UNKNOWN";
}

class WatchCommand {
 public:
  explicit WatchCommand(const WatchOptions& options) : options_(options) {}
  WatchCommand(const WatchCommand&) = delete;
  WatchCommand& operator=(const WatchCommand&) = delete;

  int run();

 private:
  struct Root {
    std::string path;  // as the user gave it
    std::unique_ptr<watchers::Watcher> watcher;
    bool gone = false;
  };

  void print(const Root& root, std::vector<core::Change>&& batch);
  void human_line(std::string& out, const Root& root, const core::Change& change) const;
  void json_line(std::string& out, const Root& root, const core::Change& change) const;
  std::string shown_path(const Root& root, std::string_view relative) const;
  bool shown(const core::Change& change) const;
  void finish(int code, bool flush_output);
  void close_signals();
  static void on_signal(uv_signal_t* handle, int signal) noexcept;

  const WatchOptions& options_;
  std::optional<core::PathFilter> filter_;
  uv_loop_t loop_{};
  std::vector<std::unique_ptr<Root>> roots_;
  std::vector<uv_signal_t*> signals_;
  std::unique_ptr<StdoutStream> output_;
  std::size_t dropped_events_ = 0;  // not printed because the reader fell behind
  int exit_code_ = exit_code::ok;
  bool finished_ = false;
};

std::string WatchCommand::shown_path(const Root& root, std::string_view relative) const {
  if (roots_.size() == 1) return relative.empty() ? "." : std::string(relative);
  if (relative.empty()) return root.path;
  std::string joined = root.path;
  if (joined.empty() || joined.back() != '/') joined.push_back('/');
  joined.append(relative);
  return joined;
}

// --exclude hides events for excluded paths (excluded directories are not even watched).
bool WatchCommand::shown(const core::Change& change) const {
  if (!filter_ || change.kind == core::ChangeKind::rescan ||
      change.kind == core::ChangeKind::root_gone) {
    return true;
  }
  if (filter_->includes(change.path, change.is_dir)) return true;
  return change.kind == core::ChangeKind::moved && filter_->includes(change.to_path, change.is_dir);
}

void WatchCommand::human_line(std::string& out, const Root& root,
                              const core::Change& change) const {
  const auto path = [&](std::string_view relative) {
    std::string text = core::display_escape(shown_path(root, relative));
    if (change.is_dir && change.kind != core::ChangeKind::rescan &&
        change.kind != core::ChangeKind::root_gone && text.back() != '/') {
      text.push_back('/');  // directories end in '/'
    }
    return text;
  };
  out += human_verb(change.kind);
  out += ' ';
  out += path(change.path);
  if (change.kind == core::ChangeKind::moved) {
    out += " -> ";
    out += path(change.to_path);
  }
  if (!change.reason.empty()) {
    out += " (";
    out += core::display_escape(change.reason);
    out += ')';
  }
  out += '\n';
}

void WatchCommand::json_line(std::string& out, const Root& root, const core::Change& change) const {
  out += "{\"ts\":";
  out += core::json_quote(utc_timestamp());
  out += ",\"event\":";
  out += core::json_quote(core::to_string(change.kind));
  if (roots_.size() > 1) append_json_path(out, "root", root.path);
  append_json_path(out, "path", change.path);
  if (change.kind == core::ChangeKind::moved) append_json_path(out, "to", change.to_path);
  out += change.is_dir ? ",\"is_dir\":true" : ",\"is_dir\":false";
  if (!change.reason.empty()) {
    out += ",\"reason\":";
    out += core::json_quote(core::utf8_lossy(change.reason));
  }
  out += "}\n";
}

void WatchCommand::print(const Root& root, std::vector<core::Change>&& batch) {
  std::string out;
  std::size_t events = 0;
  for (const core::Change& change : batch) {
    if (!shown(change)) continue;
    ++events;
    if (options_.json) {
      json_line(out, root, change);
    } else {
      human_line(out, root, change);
    }
  }
  if (events == 0 || output_ == nullptr) return;
  if (dropped_events_ > 0) {
    if (output_->queued() > StdoutStream::max_queued_bytes / 2) {
      dropped_events_ += events;
      return;
    }
    // The reader caught up: tell it to look at everything again, as after a kernel overflow.
    std::fprintf(stderr,
                 "tetherd watch: %zu events were not printed because standard output was not "
                 "read fast enough\n",
                 dropped_events_);
    dropped_events_ = 0;
    std::string rescan;
    for (const auto& each : roots_) {
      const core::Change change = core::Change::rescan("", "output overflow");
      options_.json ? json_line(rescan, *each, change) : human_line(rescan, *each, change);
    }
    out.insert(0, rescan);
  }
  // One write per batch, straight away, so `| grep` sees events as they happen.
  if (!output_->write(std::move(out))) dropped_events_ += events;
}

void WatchCommand::close_signals() {
  for (uv_signal_t* signal : signals_) {
    uv_close(reinterpret_cast<uv_handle_t*>(signal),
             [](uv_handle_t* closed) { delete reinterpret_cast<uv_signal_t*>(closed); });
  }
  signals_.clear();
}

// Stops watching. With `flush_output`, what is queued for stdout is written before the loop
// ends; the signal handlers stay until then, so a signal can still cut that short.
void WatchCommand::finish(int code, bool flush_output) {
  if (finished_) {
    if (output_) output_->close(false, nullptr);
    return;
  }
  finished_ = true;
  exit_code_ = code;
  for (auto& root : roots_) {
    if (root->watcher) root->watcher->stop();
  }
  if (output_) {
    output_->close(flush_output, [this] { close_signals(); });
  } else {
    close_signals();
  }
}

void WatchCommand::on_signal(uv_signal_t* handle, int /*signal*/) noexcept {
  static_cast<WatchCommand*>(handle->data)->finish(exit_code::ok, false);
}

int WatchCommand::run() {
  for (const std::string& path : options_.paths) {
    struct stat info {};
    const char* problem = nullptr;
    if (::stat(path.c_str(), &info) != 0) {
      problem = std::strerror(errno);
    } else if (!S_ISDIR(info.st_mode)) {
      problem = "not a directory";
    } else if (::access(path.c_str(), R_OK | X_OK) != 0) {
      problem = std::strerror(errno);
    }
    if (problem != nullptr) {
      std::fprintf(stderr, "tetherd watch: cannot watch '%s': %s\n",
                   core::display_escape(path).c_str(), problem);
      return exit_code::no_input;
    }
  }
  if (!options_.excludes.empty()) {
    try {
      filter_.emplace(std::vector<std::string>{}, options_.excludes);
    } catch (const std::exception& error) {
      std::fprintf(stderr, "tetherd watch: %s\n", error.what());
      return exit_code::usage;
    }
  }
  uv_loop_init(&loop_);
  output_ = std::make_unique<StdoutStream>(&loop_, [this](int status) {
    std::fprintf(stderr, "tetherd watch: cannot write to standard output: %s\n",
                 uv_strerror(status));
    finish(exit_code::io_error, false);
  });
  std::size_t directories = 0;
  int code = exit_code::ok;
  for (const std::string& path : options_.paths) {
    auto root = std::make_unique<Root>();
    root->path = path;
    Root* raw = root.get();
    roots_.push_back(std::move(root));
    watchers::WatcherOptions watch;
    watch.root = path;
    watch.poll_interval = std::chrono::milliseconds(options_.poll_interval_ms);
    if (filter_) {
      watch.watch_directory = [this](std::string_view dir) { return filter_->should_descend(dir); };
    }
    watch.on_changes = [this, raw](std::vector<core::Change>&& batch) {
      const bool gone = !batch.empty() && batch.back().kind == core::ChangeKind::root_gone;
      print(*raw, std::move(batch));
      if (!gone) return;
      raw->gone = true;
      bool all_gone = true;
      for (const auto& each : roots_)
        all_gone &= each->gone;
      if (all_gone) {
        std::fprintf(stderr, "tetherd watch: no watched directory is left\n");
        finish(exit_code::no_input, true);
      }
    };
    watch.on_error = [](const watchers::WatcherError& error) {
      std::fprintf(stderr, "tetherd watch: %s\n", core::display_escape(error.message).c_str());
    };
    raw->watcher = watchers::make_watcher(
        options_.poll ? watchers::WatcherKind::poll : watchers::WatcherKind::inotify, &loop_,
        std::move(watch));
    if (auto error = raw->watcher->start()) {
      std::fprintf(stderr, "tetherd watch: %s\n", core::display_escape(error->message).c_str());
      const int errno_value = error->code.value();
      code = (errno_value == ENOENT || errno_value == ENOTDIR || errno_value == EACCES)
                 ? exit_code::no_input
                 : exit_code::unavailable;
      break;
    }
    directories += raw->watcher->watched_directory_count();
  }

  if (code == exit_code::ok) {
    for (int signal_number : {SIGINT, SIGTERM}) {
      auto* signal = new uv_signal_t;
      uv_signal_init(&loop_, signal);
      signal->data = this;
      uv_signal_start(signal, &WatchCommand::on_signal, signal_number);
      signals_.push_back(signal);
    }
    // Tools (and the benchmark) wait for this line: watching is established from here on.
    std::fprintf(stderr, "tetherd watch: watching %zu %s\n", directories,
                 directories == 1 ? "directory" : "directories");
    std::fflush(stderr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    code = exit_code_;
  } else {
    finish(code, true);
  }
  roots_.clear();
  uv_run(&loop_, UV_RUN_DEFAULT);  // let closing handles finish
  output_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  return code;
}

}  // namespace

void add_watch_command(CLI::App& app, CommandMain& chosen) {
  auto options = std::make_shared<WatchOptions>();
  CLI::App* command = app.add_subcommand(
      "watch", "Print filesystem events under each PATH as they happen, one per line");
  command->add_option("PATH", options->paths, "Directories to watch (recursively)")->required();
  command->add_flag("--json", options->json,
                    "One JSON object per line: ts, event, path (path_base64 if not UTF-8), "
                    "is_dir");
  command
      ->add_option("--exclude", options->excludes,
                   "Do not watch or report paths matching GLOB (repeatable)")
      ->type_name("GLOB")
      ->allow_extra_args(false);  // one GLOB per --exclude: `--exclude a DIR` keeps DIR a PATH
  command->add_flag("--poll", options->poll,
                    "Poll with stat walks instead of inotify (NFS, FUSE, SMB)");
  command
      ->add_option("--poll-interval", options->poll_interval_ms,
                   "Milliseconds between two stat walks when polling")
      ->capture_default_str()
      ->type_name("MS")
      ->check(CLI::Range(1, 3'600'000));
  command->callback(
      [&chosen, options] { chosen = [options] { return WatchCommand(*options).run(); }; });
}

}  // namespace tetherd::daemon
