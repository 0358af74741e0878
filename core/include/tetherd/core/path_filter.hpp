#pragma once

// What a rule mirrors: its include and exclude glob lists (syntax in glob.hpp), applied to
// paths relative to the rule's source root.
//
// Rules, in order:
//   1. Exclude wins over include. A path is excluded if an exclude pattern matches the path
//      itself or any of its ancestor directories (matched as directories). So `.cache/`,
//      `**/.cache` and `**/.cache/**` all exclude everything beneath any `.cache` directory.
//   2. Otherwise, with an empty include list, every path is included.
//   3. Otherwise a path is included iff some include pattern matches the path itself or one of
//      its ancestor directories (include `photos/` includes everything under any `photos`
//      directory; include `**/*.jpg` includes jpg files).
//
// Directories: decide(dir, true) says whether the directory entry itself is included. Whether
// to watch and walk a directory is a separate question, should_descend(): with a non-empty
// include list a directory that is not itself included may still contain included files, so
// it is descended unless it is excluded.
//
// Ancestors are the proper, non-empty prefixes of the path at segment boundaries ("a" and
// "a/b" for "a/b/c"). The empty path denotes the source root itself.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tetherd/core/glob.hpp"

namespace tetherd::core {

/// Why a path is or is not mirrored, for `tetherd check --explain` and the engine's logs.
struct FilterDecision {
  enum class Reason {
    default_included,   ///< no include patterns and no exclude matched: included
    included_by,        ///< include[pattern_index] matched the path or `matched_path` (ancestor)
    excluded_by,        ///< exclude[pattern_index] matched the path itself
    not_included,       ///< include patterns exist and none matched the path or an ancestor
    ancestor_excluded,  ///< exclude[pattern_index] matched the ancestor directory `matched_path`
  };

  bool included = false;
  Reason reason = Reason::not_included;
  /// Index of the deciding pattern in its list (include or exclude, per `reason`); empty for
  /// default_included and not_included.
  std::optional<std::size_t> pattern_index;
  /// The deciding pattern's text; empty when pattern_index is empty.
  std::string pattern;
  /// The path the deciding pattern matched: the path itself, or the ancestor directory it
  /// matched (ancestor_excluded, or included_by through an ancestor). Empty when no pattern.
  std::string matched_path;
  /// True when matched_path is an ancestor directory of the path rather than the path itself.
  bool matched_ancestor = false;
};

/// The reason's name, e.g. "excluded_by" (stable: used in JSON output).
std::string_view to_string(FilterDecision::Reason reason) noexcept;

/// One line for humans, e.g.
///   excluded: ancestor directory "a/.cache" matches exclude[0] "**/.cache/**"
///   included: matches include[1] "**/*.jpg"
///   included: ancestor directory "a/photos" matches include[0] "photos/"
///   not included: no include pattern matches (2 include patterns)
/// Path bytes that are not printable are shown as \xNN.
std::string describe(const FilterDecision& decision);

/// A rule's compiled include/exclude lists. Immutable after construction; safe to share
/// between threads.
class PathFilter {
 public:
  /// Compiles both lists. Throws GlobSyntaxError whose context names the list and index
  /// (e.g. "exclude[2]") of the first invalid pattern.
  PathFilter(std::vector<std::string> include, std::vector<std::string> exclude);

  /// The full decision with its reason. The deciding pattern is the first (lowest index) one
  /// that matches, the shallowest ancestor first, then the path itself.
  FilterDecision decide(std::string_view relative_path, bool is_dir) const;

  /// decide(...).included, without building the explanation (no allocation).
  bool includes(std::string_view relative_path, bool is_dir) const noexcept;

  /// False when nothing at or beneath the directory can be included, so it is neither watched
  /// nor walked: when the directory is excluded (itself or an ancestor), or when an exclude
  /// pattern matches every child of it (GlobPattern::matches_every_child_of, e.g. `build/*`).
  /// The empty path is the source root.
  bool should_descend(std::string_view relative_dir) const noexcept;

  const std::vector<GlobPattern>& include_patterns() const noexcept { return include_; }
  const std::vector<GlobPattern>& exclude_patterns() const noexcept { return exclude_; }

 private:
  struct Match;
  Match find_exclude(std::string_view relative_path, bool is_dir) const noexcept;
  Match find_include(std::string_view relative_path, bool is_dir) const noexcept;

  std::vector<GlobPattern> include_;
  std::vector<GlobPattern> exclude_;
};

}  // namespace tetherd::core
