// SourceHintFences: whether what a walk saw of a source path may still be trusted.
//
// A walk's listing is a hint: a plain copy or mkdir planned from it skips a second stat
// (MirrorRule::examine_with_source). The hint goes stale once something reported after the
// listing may have taken the path away: the path or one of its ancestors renamed, removed,
// found gone, or covered by a rescan (which stands for lost events). Each such report
// raises a fence over its subtree at a new generation; a hint stamped with the generation
// current when its walk began stays good while no fence over its path is newer.
//
// Fences are few (one per rename or removal reported), so they are kept per path until
// there are many; then they are all forgotten at once and every older hint counts as
// stale (the floor), which costs stats, never exactness.

#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "tetherd/engine/string_map.hpp"

namespace tetherd::daemon {

class SourceHintFences {
 public:
  using Generation = std::uint64_t;

  /// Most fences kept per path before they are all folded into the floor.
  static constexpr std::size_t kMaxFences = 4096;

  /// The stamp for hints taken from a listing that begins now.
  Generation current() const noexcept { return generation_; }

  /// `path` ("" is the rule's root) and everything beneath it may be gone: hints stamped
  /// before now, at or below it, are stale from here on.
  void raise(std::string_view path);

  /// True if a hint of `path` stamped `stamp` is still good: no fence over the path (at
  /// it or at any ancestor, the root included) was raised after the stamp.
  bool still_valid(std::string_view path, Generation stamp) const;

  /// Fences kept per path (for tests).
  std::size_t size() const noexcept { return fences_.size(); }

 private:
  Generation generation_ = 0;
  /// Hints stamped before this are stale whatever their path: the fences were forgotten.
  Generation floor_ = 0;
  /// The newest fence at each path.
  StringMap<Generation> fences_;
};

}  // namespace tetherd::daemon
