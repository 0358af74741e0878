#pragma once

// MemorySourceTree: a rule's source directory held in memory, for simulation tests. The
// simulation changes it (create, write, rename, remove...) and every change is journaled
// as the inotify events a real watcher would see; SimWatcher hands them to the engine.
// Times come from the simulation's clock and inodes are reused as a file system reuses
// them, so the engine's identity checks meet the cases they meet on disks.
//
// Single-threaded like everything in a simulation: the engine's "worker" calls run on the
// simulation's thread, between its own changes.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sim/sim_executor.hpp"
#include "tetherd/core/change.hpp"
#include "tetherd/engine/settle_cookie.hpp"
#include "tetherd/engine/source_tree.hpp"

namespace tetherd::sim {

struct SourceNode {
  core::EntryType type = core::EntryType::File;
  std::string content;  ///< files: bytes; symlinks: the link's text
  std::uint32_t mode = 0644;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t inode = 0;
};

class MemorySourceTree final : public daemon::SourceTree,
                               public std::enable_shared_from_this<MemorySourceTree> {
 public:
  MemorySourceTree(SimExecutor& clock, std::mt19937_64& random) : clock_(clock), random_(random) {
    SourceNode root;
    root.type = core::EntryType::Directory;
    root.mode = 0755;
    root.inode = next_inode_++;
    nodes_.emplace("", root);
  }

  // ---- What the engine sees (daemon::SourceTree) ----

  const std::string& root() const noexcept override { return root_; }

  core::Result<daemon::SourceEntry> stat(std::string_view relative) const override {
    auto it = nodes_.find(std::string(relative));
    if (it == nodes_.end()) return daemon::source_error(ENOENT, relative, "lstat");
    return entry(it->first, it->second);
  }

  core::Result<std::vector<daemon::SourceEntry>> list(std::string_view relative) const override {
    auto dir = nodes_.find(std::string(relative));
    if (dir == nodes_.end()) return daemon::source_error(ENOENT, relative, "open directory");
    if (dir->second.type != core::EntryType::Directory) {
      return daemon::source_error(ENOTDIR, relative, "open directory");
    }
    std::vector<daemon::SourceEntry> entries;
    for (const auto& child : children(std::string(relative))) {
      entries.push_back(entry(child, nodes_.at(child)));
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return name_of(a.path) < name_of(b.path); });
    return entries;
  }

  bool root_intact() const override { return true; }
  std::int64_t now_ns() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now().time_since_epoch())
        .count();
  }

  std::shared_ptr<core::ByteSource> reader(core::Executor& executor,
                                           daemon::SourceEntry expected) const override;

  core::Result<void> create_marker(std::string_view name) const override {
    auto* self = const_cast<MemorySourceTree*>(this);
    if (nodes_.count(std::string(name))) return daemon::source_error(EEXIST, name, "create");
    self->create_file(std::string(name), "", false);
    return {};
  }
  void remove_marker(std::string_view name) const override {
    auto* self = const_cast<MemorySourceTree*>(this);
    if (nodes_.count(std::string(name))) self->remove(std::string(name));
  }

  // ---- What the simulation does ----

  /// File times in ticks of `ns` (1: every change gets a time of its own).
  void set_time_granularity(std::int64_t ns) { granularity_ns_ = ns; }

  const std::map<std::string, SourceNode>& nodes() const noexcept { return nodes_; }
  bool exists(const std::string& path) const { return nodes_.count(path) != 0; }
  const SourceNode* node(const std::string& path) const {
    auto it = nodes_.find(path);
    return it == nodes_.end() ? nullptr : &it->second;
  }
  /// Every content a file of the source has ever had: a target file holding anything
  /// else is torn.
  const std::set<std::string>& contents_ever() const noexcept { return contents_ever_; }

  /// A new file, written and closed (`closed` false: its writer keeps it open).
  void create_file(const std::string& path, const std::string& content, bool closed = true) {
    SourceNode node;
    node.type = core::EntryType::File;
    node.content = content;
    node.mode = 0644;
    stamp_new(node);
    nodes_[path] = node;
    contents_ever_.insert(content);
    journal(core::Change::created(path, false, true));
    if (!content.empty()) journal(core::Change::modified(path, true));
    if (closed) journal(core::Change::modified(path, false));
  }
  /// Replaces or extends a file's content; `closed` false leaves its writer holding it.
  void write_file(const std::string& path, const std::string& content, bool closed = true) {
    SourceNode& node = nodes_.at(path);
    node.content = content;
    touch(node, true);
    contents_ever_.insert(content);
    journal(core::Change::modified(path, true));
    if (closed) journal(core::Change::modified(path, false));
  }
  /// The writer of an open file closes it.
  void close_file(const std::string& path) { journal(core::Change::modified(path, false)); }
  void make_directory(const std::string& path) {
    SourceNode node;
    node.type = core::EntryType::Directory;
    node.mode = 0755;
    stamp_new(node);
    nodes_[path] = node;
    journal(core::Change::created(path, true));
  }
  void make_symlink(const std::string& path, const std::string& target) {
    SourceNode node;
    node.type = core::EntryType::Symlink;
    node.content = target;
    node.mode = 0777;
    stamp_new(node);
    nodes_[path] = node;
    journal(core::Change::created(path, false, false));
  }
  void change_mode(const std::string& path, std::uint32_t mode) {
    SourceNode& node = nodes_.at(path);
    node.mode = mode;
    touch(node, false);
    journal(core::Change::attrib(path, node.type == core::EntryType::Directory));
  }
  /// rm (a file, a symlink) or rm -r (a directory): children first, as the kernel reports.
  void remove(const std::string& path) {
    const bool is_dir = nodes_.at(path).type == core::EntryType::Directory;
    if (is_dir) {
      auto inner = descendants(path);
      for (auto it = inner.rbegin(); it != inner.rend(); ++it) {
        const bool inner_dir = nodes_.at(*it).type == core::EntryType::Directory;
        free_inode(nodes_.at(*it).inode);
        nodes_.erase(*it);
        journal(core::Change::removed(*it, inner_dir));
      }
    }
    free_inode(nodes_.at(path).inode);
    nodes_.erase(path);
    journal(core::Change::removed(path, is_dir));
    if (auto parent = parent_of(path); nodes_.count(parent)) touch(nodes_.at(parent), true);
  }
  /// mv from to, inside the tree; `to` is absent or a file (replaced). Where one end lies in
  /// a directory not watched yet, the watcher sees one half only: a removal of the old path
  /// or a creation of the new one (the other is left to the listing of that directory).
  void rename(const std::string& from, const std::string& to) {
    if (trace_) std::fprintf(stderr, "source: mv %s %s\n", from.c_str(), to.c_str());
    const bool is_dir = nodes_.at(from).type == core::EntryType::Directory;
    if (auto replaced = nodes_.find(to); replaced != nodes_.end()) {
      free_inode(replaced->second.inode);
      nodes_.erase(replaced);
    }
    std::vector<std::pair<std::string, SourceNode>> moved;
    moved.emplace_back(to, nodes_.at(from));
    for (const auto& inner : descendants(from)) {
      moved.emplace_back(to + inner.substr(from.size()), nodes_.at(inner));
      nodes_.erase(inner);
    }
    nodes_.erase(from);
    moved.front().second.ctime_ns = next_time();
    for (auto& [path, node] : moved)
      nodes_[path] = node;
    const bool from_seen = watched(from);
    const bool to_seen = watched(to);
    std::map<std::string, std::uint64_t> still_unwatched;
    for (const auto& [dir, creation] : unwatched_) {
      still_unwatched[dir == from || dir.starts_with(from + "/") ? to + dir.substr(from.size())
                                                                 : dir] = creation;
    }
    unwatched_ = std::move(still_unwatched);
    if (from_seen && to_seen) {
      journal(core::Change::moved(from, to, is_dir, ++rename_cookie_));
    } else if (from_seen) {
      journal(core::Change::removed(from, is_dir));
    } else if (to_seen) {
      journal(core::Change::created(to, is_dir));
      // The watcher watches what arrived (and what it holds) once it takes that event.
      for (auto& [dir, creation] : unwatched_) {
        if (dir == to || dir.starts_with(to + "/")) creation = journaled_;
      }
    }
  }

  /// Events journaled since the last take, in order.
  std::vector<core::Change> take_events(std::size_t at_most) {
    const std::size_t count = std::min(at_most, events_.size());
    std::vector<core::Change> batch(events_.begin(),
                                    events_.begin() + static_cast<std::ptrdiff_t>(count));
    events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(count));
    // The watcher watches a new directory (and what it holds) before it reports it,
    // wherever a rename has taken it since.
    taken_ += count;
    std::vector<std::string> now_watched;
    for (const auto& [dir, creation] : unwatched_) {
      if (creation != 0 && creation <= taken_) now_watched.push_back(dir);
    }
    for (const auto& watched_dir : now_watched) {
      std::erase_if(unwatched_, [&](const auto& item) {
        return item.first == watched_dir || item.first.starts_with(watched_dir + "/");
      });
    }
    return batch;
  }
  std::size_t pending_events() const noexcept { return events_.size(); }
  /// The kernel's queue overflowed: what it held is lost, a rescan stands for it.
  void overflow() {
    taken_ = journaled_;
    events_.clear();
    unwatched_.clear();  // the watcher's walk after an overflow watches everything
    events_.push_back(core::Change::overflow());
    ++journaled_;
  }
  /// Nobody watched (the daemon was down): those events went nowhere.
  /// A watcher that starts now watches every directory there is.
  void forget_events() {
    taken_ = journaled_;
    events_.clear();
    unwatched_.clear();
  }
  /// Events inside `directory` are not reported (it is not watched yet).
  /// Call right after make_directory(directory).
  void unwatched(const std::string& directory) {
    // Its creation's place in the journal (0: not journaled, inside an unwatched
    // directory: it is watched along with that one).
    unwatched_[directory] = watched(directory) ? journaled_ : 0;
  }

  std::vector<std::string> children(const std::string& dir) const {
    std::vector<std::string> found;
    const std::string prefix = dir.empty() ? "" : dir + "/";
    for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
      if (!it->first.starts_with(prefix)) break;
      if (it->first.empty()) continue;
      if (it->first.find('/', prefix.size()) == std::string::npos) found.push_back(it->first);
    }
    return found;
  }
  std::vector<std::string> descendants(const std::string& dir) const {
    std::vector<std::string> found;
    const std::string prefix = dir + "/";
    for (auto it = nodes_.lower_bound(prefix); it != nodes_.end(); ++it) {
      if (!it->first.starts_with(prefix)) break;
      found.push_back(it->first);
    }
    return found;
  }
  static std::string parent_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string() : path.substr(0, slash);
  }
  static std::string name_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }

 private:
  daemon::SourceEntry entry(const std::string& path, const SourceNode& node) const {
    daemon::SourceEntry out;
    out.path = path;
    out.type = node.type;
    out.size = node.type == core::EntryType::Directory ? 0 : node.content.size();
    out.mtime_ns = node.mtime_ns;
    out.ctime_ns = node.ctime_ns;
    out.mode = node.mode;
    out.device = 1;
    out.inode = node.inode;
    if (node.type == core::EntryType::Symlink) out.link_target = node.content;
    return out;
  }
  /// Times from the simulation's clock: strictly increasing, or in ticks of the
  /// granularity (as a file system without fine-grained timestamps stamps them).
  std::int64_t next_time() {
    const auto now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now().time_since_epoch())
            .count();
    if (granularity_ns_ > 1) return now / granularity_ns_ * granularity_ns_;
    last_time_ = std::max(last_time_ + 1, static_cast<std::int64_t>(now));
    return last_time_;
  }
  void stamp_new(SourceNode& node) {
    node.mtime_ns = node.ctime_ns = next_time();
    // A file system hands freed inodes out again: the engine must not take a new file for
    // an old one because the number matches.
    if (!free_inodes_.empty() && random_() % 2 == 0) {
      node.inode = free_inodes_.back();
      free_inodes_.pop_back();
    } else {
      node.inode = next_inode_++;
    }
  }
  void touch(SourceNode& node, bool content) {
    node.ctime_ns = next_time();
    if (content) node.mtime_ns = node.ctime_ns;
  }
  void free_inode(std::uint64_t inode) { free_inodes_.push_back(inode); }
  bool watched(const std::string& path) const {
    for (const auto& [dir, creation] : unwatched_) {
      if (path.starts_with(dir + "/")) return false;
    }
    return true;
  }
  void journal(core::Change change) {
    if (trace_) {
      std::fprintf(stderr, "source %s %s%s%s%s\n",
                   std::string(core::to_string(change.kind)).c_str(), change.path.c_str(),
                   change.to_path.empty() ? "" : " -> ", change.to_path.c_str(),
                   change.still_open ? " (open)" : "");
    }
    if (!watched(change.path)) return;
    // The kernel merges an event identical to the one queued last.
    if (!events_.empty() && events_.back() == change) return;
    events_.push_back(std::move(change));
    ++journaled_;
  }

  /// TETHERD_SIM_TRACE=1: every change as it is made (before the watcher's filtering).
  bool trace_ = std::getenv("TETHERD_SIM_TRACE") != nullptr;
  SimExecutor& clock_;
  std::mt19937_64& random_;
  std::string root_ = "/simulated/source";
  std::map<std::string, SourceNode> nodes_;
  std::set<std::string> contents_ever_;
  std::vector<core::Change> events_;
  /// Directories not watched yet, with the number of their creation's event.
  std::map<std::string, std::uint64_t> unwatched_;
  std::uint64_t journaled_ = 0;  ///< events journaled so far (numbered from 1)
  std::uint64_t taken_ = 0;      ///< of which the watcher has taken (or lost) so many
  std::vector<std::uint64_t> free_inodes_;
  std::uint64_t next_inode_ = 2;
  std::uint32_t rename_cookie_ = 0;
  std::int64_t last_time_ = 0;
  std::int64_t granularity_ns_ = 1;
};

/// A file of a MemorySourceTree as a store's write reads it: the content is taken at the
/// first read, on a "worker", and the end is refused unless the file is still in the state
/// the engine examined (as SourceFileSource refuses a file that changed under it).
class MemorySourceReader final : public core::ByteSource {
 public:
  MemorySourceReader(core::Executor& executor, std::shared_ptr<const MemorySourceTree> tree,
                     daemon::SourceEntry expected)
      : executor_(executor), tree_(std::move(tree)), expected_(std::move(expected)) {}

  void read(std::size_t max_bytes, core::Callback<core::Bytes> done) override {
    auto self = std::static_pointer_cast<MemorySourceReader>(shared_from_this());
    auto result = std::make_shared<std::optional<core::Result<core::Bytes>>>();
    executor_.run_blocking(
        [self, max_bytes, result] { result->emplace(self->read_on_worker(max_bytes)); },
        [self, result, done = std::move(done)] {
          if (self->cancelled_) {
            done(core::StoreError::make(core::Errc::Cancelled, "cancelled"));
            return;
          }
          done(std::move(**result));
        });
  }
  void cancel() override { cancelled_ = true; }
  std::optional<std::uint64_t> size() const override { return expected_.size; }

 private:
  bool still_expected() const {
    auto now = tree_->stat(expected_.path);
    return now && now->type == core::EntryType::File && now->same_state(expected_) &&
           now->mode == expected_.mode;
  }
  /// Retryable: the engine copies again once the file is quiet.
  static core::StoreError changed(const char* what) {
    auto error = core::StoreError::make(core::Errc::PreconditionFailed, what);
    error.retryable = true;
    return error;
  }
  core::Result<core::Bytes> read_on_worker(std::size_t max_bytes) {
    if (!content_) {
      if (!still_expected()) {
        return changed("changed since examined");
      }
      content_ = tree_->node(expected_.path)->content;
    }
    if (offset_ >= content_->size()) {
      if (!still_expected()) {
        return changed("changed while read");
      }
      return core::Bytes{};
    }
    const std::size_t count = std::min(max_bytes, content_->size() - offset_);
    core::Bytes chunk = core::to_bytes(std::string_view(*content_).substr(offset_, count));
    offset_ += count;
    return chunk;
  }

  core::Executor& executor_;
  std::shared_ptr<const MemorySourceTree> tree_;
  daemon::SourceEntry expected_;
  std::optional<std::string> content_;
  std::size_t offset_ = 0;
  bool cancelled_ = false;
};

inline std::shared_ptr<core::ByteSource> MemorySourceTree::reader(
    core::Executor& executor, daemon::SourceEntry expected) const {
  return std::make_shared<MemorySourceReader>(executor, shared_from_this(), std::move(expected));
}

}  // namespace tetherd::sim
