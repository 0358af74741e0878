#include "rule_conflicts.hpp"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <optional>
#include <set>

#include "located_path.hpp"
#include "mount_table.hpp"
#include "path_checks.hpp"

namespace tetherd::config::detail {
namespace {

namespace fs = std::filesystem;

// One rule with its paths located once.
struct Placed {
  const Rule* rule = nullptr;
  const RuleSite* site = nullptr;
  LocatedPath source;
  std::optional<LocatedPath> local_target;  // nothing for a remote store
  std::string target_text;                  // for messages
};

std::string named(const Placed& placed) {
  return "rule " + quote(placed.rule->name);
}

std::string at_line(const Placed& placed) {
  return " (line " + std::to_string(placed.site->target_position.line) + ")";
}

// How `later`'s target relates to `earlier`'s, as a message; nothing when they are apart.
// `mounts` (when readable) sees a bind mount of a directory below the other target.
std::optional<std::string> target_conflict(const Placed& later, const Placed& earlier,
                                           const std::optional<MountTable>& mounts) {
  std::string note;
  enum class Relation { same, inside, contains } relation = Relation::same;
  if (later.local_target && earlier.local_target) {
    const LocatedPath& mine = *later.local_target;
    const LocatedPath& theirs = *earlier.local_target;
    if (const auto count = mine.within(theirs)) {
      note = same_directory_note(mine, *count, theirs);
      relation = mine.same_as(theirs) ? Relation::same : Relation::inside;
    } else if (const auto their_count = theirs.within(mine)) {
      note = same_directory_note(theirs, *their_count, mine);
      relation = Relation::contains;
    } else if (const auto seen =
                   mounts ? mounts->seen_within(mine.path(), theirs.path()) : std::nullopt) {
      note = bind_mount_note(mine.path(), *seen);
      relation = Relation::inside;
    } else if (const auto their_seen =
                   mounts ? mounts->seen_within(theirs.path(), mine.path()) : std::nullopt) {
      note = bind_mount_note(theirs.path(), *their_seen);
      relation = Relation::contains;
    } else {
      return std::nullopt;
    }
  } else if (!later.local_target && !earlier.local_target &&
             later.rule->target.store == earlier.rule->target.store) {
    const fs::path mine = later.rule->target.path;
    const fs::path theirs = earlier.rule->target.path;
    if (mine == theirs) {
      relation = Relation::same;
    } else if (is_within(mine, theirs)) {
      relation = Relation::inside;
    } else if (is_within(theirs, mine)) {
      relation = Relation::contains;
    } else {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  std::string message;
  switch (relation) {
    case Relation::same:
      message = named(later) + " and " + named(earlier) + at_line(earlier) +
                " have the same target " + later.target_text +
                (later.target_text == earlier.target_text ? "" : " = " + earlier.target_text) +
                "; rules must not share a target (each would delete or overwrite what the "
                "other copies)";
      break;
    case Relation::inside:
      message = "the target " + later.target_text + " of " + named(later) +
                " is inside the target " + earlier.target_text + " of " + named(earlier) +
                at_line(earlier) + "; targets must not nest (" + named(earlier) +
                " would delete or overwrite what " + named(later) + " copies)";
      break;
    case Relation::contains:
      message = "the target " + later.target_text + " of " + named(later) +
                " contains the target " + earlier.target_text + " of " + named(earlier) +
                at_line(earlier) + "; targets must not nest (" + named(later) +
                " would delete or overwrite what " + named(earlier) + " copies)";
      break;
  }
  if (!note.empty()) message += "; " + note;
  return message;
}

// How rule `from` feeds rule `to`, for a message: its local target lies within `to`'s
// source, or holds it (then what `from` copies into that part, `to` copies again). Nothing
// if it does not.
struct Feed {
  std::string link;  // "the target ... of "a" is inside the source ... of "b""
  std::string note;  // same_directory_note(), maybe empty
};

std::optional<Feed> feeds(const Placed& from, const Placed& to,
                          const std::optional<MountTable>& mounts) {
  if (!from.local_target) return std::nullopt;
  const LocatedPath& target = *from.local_target;
  const std::string start = "the target " + from.target_text + " of " + quote(from.rule->name);
  const std::string source = quote(to.rule->source.string()) + " of " + quote(to.rule->name);
  if (const auto count = target.within(to.source)) {
    return Feed{start + " is inside the source " + source,
                same_directory_note(target, *count, to.source)};
  }
  if (const auto count = to.source.within(target)) {
    return Feed{start + " holds the source " + source,
                same_directory_note(to.source, *count, target)};
  }
  if (!mounts) return std::nullopt;
  // A bind mount of a directory below the other path (mount_table.hpp).
  if (const auto seen = mounts->seen_within(target.path(), to.source.path())) {
    return Feed{start + " is inside the source " + source, bind_mount_note(target.path(), *seen)};
  }
  if (const auto seen = mounts->seen_within(to.source.path(), target.path())) {
    return Feed{start + " holds the source " + source, bind_mount_note(to.source.path(), *seen)};
  }
  return std::nullopt;
}

// links[i]: the rules that rule i feeds (found once: a config may hold many rules).
using Links = std::vector<std::vector<std::size_t>>;

Links links_between(const std::vector<Placed>& placed, const std::optional<MountTable>& mounts) {
  Links links(placed.size());
  for (std::size_t from = 0; from < placed.size(); ++from) {
    for (std::size_t to = 0; to < placed.size(); ++to) {
      if (to != from && feeds(placed[from], placed[to], mounts)) links[from].push_back(to);
    }
  }
  return links;
}

// The shortest loop of links from `start` back to it (rule indexes, `start` first), or
// nothing. Breadth first.
std::vector<std::size_t> shortest_loop(const Links& links, std::size_t start) {
  const std::size_t none = links.size();
  std::vector<std::size_t> came_from(links.size(), none);
  std::deque<std::size_t> queue = {start};
  came_from[start] = start;
  while (!queue.empty()) {
    const std::size_t current = queue.front();
    queue.pop_front();
    for (const std::size_t next : links[current]) {
      if (next == start) {
        std::vector<std::size_t> loop;
        for (std::size_t at = current; at != start; at = came_from[at])
          loop.push_back(at);
        loop.push_back(start);
        std::reverse(loop.begin(), loop.end());
        return loop;
      }
      if (came_from[next] != none) continue;
      came_from[next] = current;
      queue.push_back(next);
    }
  }
  return {};
}

std::string loop_message(const std::vector<Placed>& placed, const std::vector<std::size_t>& loop,
                         std::size_t reported_at, const std::optional<MountTable>& mounts) {
  std::string names;
  for (std::size_t i = 0; i < loop.size(); ++i) {
    if (i > 0) names += i + 1 == loop.size() ? " and " : ", ";
    names += quote(placed[loop[i]].rule->name);
    if (loop[i] != reported_at) names += at_line(placed[loop[i]]);
  }
  std::string links;
  std::string notes;
  for (std::size_t i = 0; i < loop.size(); ++i) {
    const Placed& from = placed[loop[i]];
    const Placed& to = placed[loop[(i + 1) % loop.size()]];
    const Feed feed = *feeds(from, to, mounts);
    if (i > 0) links += i + 1 == loop.size() ? ", and " : ", ";
    links += feed.link;
    if (!feed.note.empty()) notes += "; " + feed.note;
  }
  return "rules " + names + " feed each other in a loop: " + links +
         "; every copy would be copied again, deeper each time, without end" + notes;
}

}  // namespace

void check_rule_conflicts(ValueReader& reader, const Config& config,
                          const std::vector<RuleSite>& sites) {
  std::vector<Placed> placed;
  for (std::size_t index = 0; index < config.rules.size() && index < sites.size(); ++index) {
    const Rule& rule = config.rules[index];
    Placed entry{&rule, &sites[index], LocatedPath::locate(rule.source), std::nullopt, ""};
    if (const auto directory = config.local_directory(rule.target)) {
      entry.local_target = LocatedPath::locate(*directory);
      entry.target_text = quote(directory->string());
      if (!rule.target.implicit_local()) {
        entry.target_text =
            quote(rule.target.store + ":" + rule.target.path) + " (" + entry.target_text + ")";
      }
    } else {
      entry.target_text = quote(rule.target.store + ":" + rule.target.path);
    }
    placed.push_back(std::move(entry));
  }

  // Read once, and only when two rules may be compared.
  const std::optional<MountTable> mounts = placed.size() > 1 ? MountTable::read() : std::nullopt;
  for (std::size_t later = 1; later < placed.size(); ++later) {
    for (std::size_t earlier = 0; earlier < later; ++earlier) {
      if (auto message = target_conflict(placed[later], placed[earlier], mounts)) {
        reader.report(placed[later].site->target_position, placed[later].site->target_path,
                      std::move(*message));
      }
    }
  }

  // One report per loop (the same rules found from each of them).
  const Links links = links_between(placed, mounts);
  std::set<std::vector<std::size_t>> reported;
  for (std::size_t start = 0; start < placed.size(); ++start) {
    const std::vector<std::size_t> loop = shortest_loop(links, start);
    if (loop.empty()) continue;
    std::vector<std::size_t> members = loop;
    std::sort(members.begin(), members.end());
    if (!reported.insert(members).second) continue;
    const std::size_t last = members.back();
    reader.report(placed[last].site->target_position, placed[last].site->target_path,
                  loop_message(placed, loop, last, mounts));
  }
}

}  // namespace tetherd::config::detail
