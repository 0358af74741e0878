#include "tetherd/core/path_filter.hpp"

#include <utility>

#include "glob_chars.hpp"

namespace tetherd::core {

/// The first pattern (by index) that matched, and what it matched. `matched_length` is the
/// length of the prefix of the path it matched (the whole path, or an ancestor).
struct PathFilter::Match {
  std::size_t index = 0;
  std::size_t matched_length = 0;
  bool found = false;
  bool ancestor = false;
};

namespace {

std::vector<GlobPattern> compile_list(const std::vector<std::string>& texts,
                                      const char* list_name) {
  std::vector<GlobPattern> patterns;
  patterns.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      patterns.emplace_back(texts[i]);
    } catch (const GlobSyntaxError& error) {
      // Appended piece by piece: gcc 12 -O3 gives false -Wrestrict errors on chained operator+.
      std::string context(list_name);
      context.append("[").append(std::to_string(i)).append("]");
      throw error.with_context(std::move(context));
    }
  }
  return patterns;
}

/// Index of the first pattern matching `path`, or none.
std::optional<std::size_t> first_match(const std::vector<GlobPattern>& patterns,
                                       std::string_view path, bool is_dir) noexcept {
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (patterns[i].matches(path, is_dir)) return i;
  }
  return std::nullopt;
}

}  // namespace

PathFilter::PathFilter(std::vector<std::string> include, std::vector<std::string> exclude)
    : include_(compile_list(include, "include")), exclude_(compile_list(exclude, "exclude")) {}

// Both lookups try the ancestors shallowest first ("a", then "a/b"), then the path itself:
// the shallowest excluded ancestor is the one that keeps the whole subtree out, which is
// what an explanation should name.
PathFilter::Match PathFilter::find_exclude(std::string_view relative_path,
                                           bool is_dir) const noexcept {
  Match match;
  if (exclude_.empty()) return match;
  for (std::size_t slash = relative_path.find('/'); slash != std::string_view::npos;
       slash = relative_path.find('/', slash + 1)) {
    if (slash == 0) continue;  // not a meaningful ancestor (malformed path with a leading '/')
    if (auto index = first_match(exclude_, relative_path.substr(0, slash), true)) {
      return Match{*index, slash, true, true};
    }
  }
  if (auto index = first_match(exclude_, relative_path, is_dir)) {
    return Match{*index, relative_path.size(), true, false};
  }
  return match;
}

PathFilter::Match PathFilter::find_include(std::string_view relative_path,
                                           bool is_dir) const noexcept {
  Match match;
  for (std::size_t slash = relative_path.find('/'); slash != std::string_view::npos;
       slash = relative_path.find('/', slash + 1)) {
    if (slash == 0) continue;
    if (auto index = first_match(include_, relative_path.substr(0, slash), true)) {
      return Match{*index, slash, true, true};
    }
  }
  if (auto index = first_match(include_, relative_path, is_dir)) {
    return Match{*index, relative_path.size(), true, false};
  }
  return match;
}

FilterDecision PathFilter::decide(std::string_view relative_path, bool is_dir) const {
  using Reason = FilterDecision::Reason;
  FilterDecision decision;
  const auto explain = [&](const std::vector<GlobPattern>& list, const Match& match) {
    decision.pattern_index = match.index;
    decision.pattern = list[match.index].text();
    decision.matched_path = std::string(relative_path.substr(0, match.matched_length));
    decision.matched_ancestor = match.ancestor;
  };

  if (const Match excluded = find_exclude(relative_path, is_dir); excluded.found) {
    decision.included = false;
    decision.reason = excluded.ancestor ? Reason::ancestor_excluded : Reason::excluded_by;
    explain(exclude_, excluded);
    return decision;
  }
  if (include_.empty()) {
    decision.included = true;
    decision.reason = Reason::default_included;
    return decision;
  }
  if (const Match included = find_include(relative_path, is_dir); included.found) {
    decision.included = true;
    decision.reason = Reason::included_by;
    explain(include_, included);
    return decision;
  }
  decision.included = false;
  decision.reason = Reason::not_included;
  return decision;
}

bool PathFilter::includes(std::string_view relative_path, bool is_dir) const noexcept {
  if (find_exclude(relative_path, is_dir).found) return false;
  return include_.empty() || find_include(relative_path, is_dir).found;
}

bool PathFilter::should_descend(std::string_view relative_dir) const noexcept {
  if (!relative_dir.empty() && find_exclude(relative_dir, true).found) return false;
  for (const GlobPattern& pattern : exclude_) {
    if (pattern.matches_every_child_of(relative_dir)) return false;
  }
  return true;
}

std::string_view to_string(FilterDecision::Reason reason) noexcept {
  switch (reason) {
    case FilterDecision::Reason::default_included:
      return "default_included";
    case FilterDecision::Reason::included_by:
      return "included_by";
    case FilterDecision::Reason::excluded_by:
      return "excluded_by";
    case FilterDecision::Reason::not_included:
      return "not_included";
    case FilterDecision::Reason::ancestor_excluded:
      return "ancestor_excluded";
  }
  return "unknown";
}

std::string describe(const FilterDecision& decision) {
  using Reason = FilterDecision::Reason;
  std::string out;
  const auto quoted = [&out](std::string_view text) {
    out.push_back('"');
    glob_chars::append_printable(out, text);
    out.push_back('"');
  };
  const auto pattern_ref = [&](const char* list) {
    out += list;
    out.append("[").append(std::to_string(decision.pattern_index.value_or(0))).append("] ");
    quoted(decision.pattern);
  };
  switch (decision.reason) {
    case Reason::default_included:
      out += "included: no include patterns, and no exclude pattern matches";
      break;
    case Reason::included_by:
      if (decision.matched_ancestor) {
        out += "included: ancestor directory ";
        quoted(decision.matched_path);
        out += " matches ";
      } else {
        out += "included: matches ";
      }
      pattern_ref("include");
      break;
    case Reason::excluded_by:
      out += "excluded: matches ";
      pattern_ref("exclude");
      break;
    case Reason::ancestor_excluded:
      out += "excluded: ancestor directory ";
      quoted(decision.matched_path);
      out += " matches ";
      pattern_ref("exclude");
      break;
    case Reason::not_included:
      out += "not included: no include pattern matches the path or an ancestor directory";
      break;
  }
  return out;
}

}  // namespace tetherd::core
