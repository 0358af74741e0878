// BusyPaths: the relative paths a rule has work in flight on, and whether another path
// overlaps one of them (is it, lies within it, or has it within).
//
// The pump asks this for every path it takes, twice for most files of a cold sync (once
// parked behind its directory's mkdir, once released), while a thousand paths are in
// flight. An ordered map answered with a binary search per ancestor, each comparing long
// shared prefixes: a fifth of the loop thread. Here every question is a hash lookup: the
// path itself, the count of busy paths within it, and each of its ancestors.

#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tetherd::daemon {

class BusyPaths {
 public:
  /// One more piece of work on `path` ("" is the rule's root). Counted: a path may be
  /// occupied more than once (a rename's old path is also some other work's path).
  void occupy(std::string_view path);

  /// Undoes one occupy(path). `freed` is called with each path whose waiters may go again:
  /// `path` once nothing occupies it any more, and each ancestor of it once nothing busy
  /// lies within that ancestor. A waiter called back may still overlap something else;
  /// it asks again.
  void release(std::string_view path, const std::function<void(const std::string&)>& freed);

  /// A busy path that `path` is, lies within or contains: the path to wait for, or nullptr
  /// when nothing overlaps. When only paths within `path` are busy, the answer is `path`
  /// itself as this object stores it: release() names it once the last of them goes.
  /// The pointer is valid until the next occupy() or release().
  const std::string* overlapping(std::string_view path) const;

  bool empty() const noexcept { return busy_.empty(); }
  /// Distinct busy paths.
  std::size_t size() const noexcept { return busy_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };
  using Counts = std::unordered_map<std::string, unsigned, Hash, std::equal_to<>>;

  /// Busy paths, each with how many pieces of work occupy it.
  Counts busy_;
  /// For each proper ancestor of a busy path (the root "" included): how many occupations
  /// lie strictly within it.
  Counts within_;
};

}  // namespace tetherd::daemon
