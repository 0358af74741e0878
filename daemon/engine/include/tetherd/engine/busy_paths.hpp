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
  // Every question looks up a path and each of its ancestors. FNV-1a extends a prefix's
  // hash byte by byte, so one pass over the path yields the hash of every ancestor, and
  // the lookups take it ready-made (a Prehashed key) instead of hashing each prefix again.
  static constexpr std::size_t kHashBasis = 14695981039346656037ull;
  static constexpr std::size_t kHashPrime = 1099511628211ull;
  static std::size_t extend(std::size_t hash, std::string_view text) noexcept {
    for (char c : text)
      hash = (hash ^ static_cast<unsigned char>(c)) * kHashPrime;
    return hash;
  }
  struct Prehashed {
    std::string_view text;
    std::size_t hash;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const Prehashed& key) const noexcept { return key.hash; }
    // Not noexcept on purpose: libstdc++ then keeps each node's hash, so walking a bucket
    // never hashes the stored strings again.
    std::size_t operator()(std::string_view text) const { return extend(kHashBasis, text); }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
    bool operator()(const Prehashed& a, std::string_view b) const noexcept { return a.text == b; }
    bool operator()(std::string_view a, const Prehashed& b) const noexcept { return a == b.text; }
  };
  using Counts = std::unordered_map<std::string, unsigned, Hash, Equal>;

  /// Calls `visit(Prehashed)` with each proper ancestor of the relative path `path`: ""
  /// (the root) first, then "a", "a/b", ... for "a/b/c"; returns `path` itself prehashed.
  /// The root has no ancestors.
  template <typename Visit>
  static Prehashed walk_ancestors(std::string_view path, Visit&& visit) {
    std::size_t hash = kHashBasis;
    if (path.empty()) return {path, hash};
    visit(Prehashed{std::string_view(), hash});
    std::size_t done = 0;
    for (auto slash = path.find('/'); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      hash = extend(hash, path.substr(done, slash - done));
      visit(Prehashed{path.substr(0, slash), hash});
      done = slash;
    }
    return {path, extend(hash, path.substr(done))};
  }

  /// Busy paths, each with how many pieces of work occupy it.
  Counts busy_;
  /// For each proper ancestor of a busy path (the root "" included): how many occupations
  /// lie strictly within it.
  Counts within_;
};

}  // namespace tetherd::daemon
