// MirrorIndex: what a rule last mirrored, by relative path: the source's identity and what
// the target then held. A tree of path segments, each directory's children in a hash map.
//
// The engine looks a path up two or three times per file it copies (was it acted on, is
// the target worth a stat, remember it), and drops or moves whole subtrees when a
// directory goes or is renamed. An ordered map of full paths did both, but each lookup
// compared long shared prefixes about log2(entries) times (17 at 100,000 entries). Here a
// lookup costs one hash lookup per segment, and a subtree is one node: dropping it or
// moving it touches only that node's path.

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tetherd/engine/planner.hpp"
#include "tetherd/engine/string_map.hpp"

namespace tetherd::daemon {

/// Last mirrored state of one path: source identity and what the target then had. One
/// per entry of the tree (a million for a large rule), so the target's state is packed:
/// 64 bytes in all, where a TargetState alone takes 72; a symlink's target, rare, is
/// kept out of line.
class Mirrored {
 public:
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;

  /// What the target held.
  TargetState target() const;
  void set_target(const TargetState& target);
  core::EntryType target_type() const noexcept {
    return static_cast<core::EntryType>(target_type_);
  }

 private:
  std::uint64_t target_size_ = 0;
  std::int64_t target_mtime_ns_ = 0;
  std::uint32_t target_mode_ = 0;
  std::uint8_t target_type_ = static_cast<std::uint8_t>(core::EntryType::File);
  bool has_target_mtime_ = false;
  bool has_target_mode_ = false;

 public:
  /// The copy read the file so soon after its last write that a later write of the same
  /// size, within the file system's timestamp granularity, would leave size and mtime as
  /// they are: a change reported for it is copied even when its stat looks the same.
  /// (Declared here, where it fills padding: the entry stays at 64 bytes; so is the next.)
  bool racy : 1 = false;
  /// The watcher reported a write to the file since that racy copy: the next look copies
  /// it again whatever its stat says. Kept here rather than with the pending change, so
  /// that it follows the entry through renames and actions in flight.
  bool write_reported : 1 = false;

 private:
  std::unique_ptr<const std::string> target_link_;  ///< null when empty
};

class MirrorIndex {
 public:
  MirrorIndex();
  ~MirrorIndex();
  MirrorIndex(const MirrorIndex&) = delete;
  MirrorIndex& operator=(const MirrorIndex&) = delete;

  /// The entry of `path` ("" is the rule's root), or nullptr.
  const Mirrored* find(std::string_view path) const;
  bool contains(std::string_view path) const { return find(path) != nullptr; }
  /// A write to `path` was reported: a racy entry there is copied again at its next look
  /// (Mirrored::write_reported). Nothing happens for a path without a racy entry.
  void note_write(std::string_view path);
  /// The entry of `path`, made (default) when there is none.
  Mirrored& operator[](std::string_view path);
  /// Drops the entry of `path` and every entry within it ("" drops everything).
  void erase_subtree(std::string_view path);
  /// Entries strictly within `path` (not counting its own).
  std::size_t count_within(std::string_view path) const;
  /// Moves the entry of `from` and every entry within it to the same places under `to`,
  /// after dropping what `to` and its subtree had. Nothing moves when `from` has neither.
  void move_subtree(std::string_view from, std::string_view to);
  /// Entries in the index.
  std::size_t size() const noexcept { return size_; }

 private:
  struct Node;
  using Children = StringMap<Node>;
  struct Node {
    std::optional<Mirrored> value;
    std::unique_ptr<Children> children;  ///< null while it has none
  };

  /// The node of `path` under `root`, or nullptr; `on_step(parent, segment)` is called for
  /// each step taken down.
  template <typename NodeT, typename OnStep>
  static NodeT* descend(NodeT& root, std::string_view path, OnStep&& on_step);
  const Node* find_node(std::string_view path) const;
  Node& make_node(std::string_view path);
  /// Removes `path`'s node from its parent and returns it; prunes ancestors left empty.
  std::optional<Node> detach(std::string_view path);
  static std::size_t count_values(const Node& node);

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace tetherd::daemon
