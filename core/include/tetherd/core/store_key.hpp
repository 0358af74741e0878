#pragma once

// StoreKey: a validated, normalized, relative POSIX key inside a store ("photos/a.jpg").
// Bytes are kept exactly (non-UTF-8 allowed, backslash is an ordinary byte). The empty
// key is the store root. A StoreKey can never name anything outside its store: there is
// no ".." segment and no leading "/" once constructed.

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tetherd/core/result.hpp"

namespace tetherd::core {

/// Whether `predicate` holds for a segment of the normalized relative key text `key`
/// ("a/b/c": "a", "b", "c"; "" has none), tried in order without allocating; stops at the
/// first that holds.
template <typename Predicate>
bool any_segment_of(std::string_view key, Predicate&& predicate) {
  while (!key.empty()) {
    const auto slash = key.find('/');
    if (predicate(key.substr(0, slash))) return true;
    if (slash == std::string_view::npos) break;
    key.remove_prefix(slash + 1);
  }
  return false;
}

class StoreKey {
 public:
  /// Longest segment accepted (bytes), as NAME_MAX on POSIX file systems.
  static constexpr std::size_t kMaxSegmentBytes = 255;

  /// The root key "".
  StoreKey() = default;

  /// Validates and normalizes: "//" collapses, "." segments drop, leading and trailing
  /// "/" strip. InvalidPath for a NUL byte, a ".." segment or a segment over 255 bytes.
  static Result<StoreKey> parse(std::string_view text);
  /// As parse(), and additionally InvalidPath for the root (file operations need a name).
  static Result<StoreKey> parse_file(std::string_view text);
  static StoreKey root() { return {}; }

  bool is_root() const noexcept { return text_.empty(); }
  /// The normalized key, "a/b/c"; "" for the root.
  const std::string& str() const noexcept { return text_; }
  /// Key segments; empty for the root. Views into this key.
  std::vector<std::string_view> segments() const;
  /// Whether `predicate` holds for a segment, tried in order without allocating (for the
  /// checks made on every key).
  template <typename Predicate>
  bool any_segment(Predicate&& predicate) const {
    return any_segment_of(text_, std::forward<Predicate>(predicate));
  }
  std::size_t depth() const noexcept;
  /// The last segment; "" for the root.
  std::string_view name() const noexcept;
  /// The containing key; the root's parent is the root.
  StoreKey parent() const;
  /// parent().str() without making the key: a view into this one.
  std::string_view parent_str() const noexcept;
  /// `this / relative` (relative is parsed and validated like any key).
  Result<StoreKey> join(std::string_view relative) const;
  StoreKey join(const StoreKey& relative) const;
  /// Whether `this` equals `ancestor` or lies beneath it (every key lies under the root).
  bool is_within(const StoreKey& ancestor) const noexcept;
  /// The part of this key below `ancestor`; requires is_within(ancestor).
  StoreKey relative_to(const StoreKey& ancestor) const;

  /// Ordering is segment by segment, bytes compared unsigned: "a/b" < "a-b" < "a0".
  /// This is the order of a depth-first, name-sorted walk, which stores list in.
  friend std::strong_ordering operator<=>(const StoreKey& a, const StoreKey& b) noexcept;
  friend bool operator==(const StoreKey& a, const StoreKey& b) noexcept = default;

 private:
  explicit StoreKey(std::string normalized) : text_(std::move(normalized)) {}
  std::string text_;
};

/// Names one segment for messages: printable ASCII kept, other bytes as \xNN.
std::string printable(std::string_view bytes);

}  // namespace tetherd::core

template <>
struct std::hash<tetherd::core::StoreKey> {
  std::size_t operator()(const tetherd::core::StoreKey& key) const noexcept {
    return std::hash<std::string>{}(key.str());
  }
};
