// PathFilter: exclude wins, ancestor exclusion, include through ancestors, should_descend
// pruning, and the explanations of decide().

#include "tetherd/core/path_filter.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using tetherd::core::describe;
using tetherd::core::FilterDecision;
using tetherd::core::GlobSyntaxError;
using tetherd::core::PathFilter;
using Reason = FilterDecision::Reason;

namespace {

constexpr bool file = false;
constexpr bool dir = true;

}  // namespace

TEST_CASE("path_filter: empty lists include everything") {
  const PathFilter filter({}, {});
  for (const char* path : {"a", "a/b/c", ".cache/x", "\xff/\xfe"}) {
    CAPTURE(path);
    const FilterDecision decision = filter.decide(path, false);
    CHECK(decision.included);
    CHECK(decision.reason == Reason::default_included);
    CHECK_FALSE(decision.pattern_index.has_value());
    CHECK(decision.pattern.empty());
    CHECK(filter.includes(path, false));
    CHECK(filter.should_descend(path));
  }
  CHECK(filter.should_descend(""));
}

TEST_CASE("path_filter: exclude wins over include") {
  const PathFilter filter({"**/*.jpg", "**/*.raw"}, {"**/.cache/**", "**/*.tmp", "secret.jpg"});
  struct Row {
    const char* path;
    bool is_dir;
    bool included;
    Reason reason;
    std::optional<std::size_t> index;
  };
  const std::vector<Row> rows = {
      {"a.jpg", file, true, Reason::included_by, 0},
      {"2024/x/a.raw", file, true, Reason::included_by, 1},
      {"2024/a.png", file, false, Reason::not_included, std::nullopt},
      {"x/secret.jpg", file, false, Reason::excluded_by, 2},
      {"a.jpg.tmp", file, false, Reason::excluded_by, 1},
      {".cache/a.jpg", file, false, Reason::ancestor_excluded, 0},
      {"x/.cache", dir, false, Reason::excluded_by, 0},
      {"x/.cache/y/a.jpg", file, false, Reason::ancestor_excluded, 0},
      {"2024", dir, false, Reason::not_included, std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.path);
    const FilterDecision decision = filter.decide(row.path, row.is_dir);
    CHECK(decision.included == row.included);
    CHECK(decision.reason == row.reason);
    CHECK(decision.pattern_index == row.index);
    CHECK(filter.includes(row.path, row.is_dir) == row.included);
  }
}

TEST_CASE("path_filter: an excluded directory excludes everything beneath it") {
  for (const char* pattern : {".cache/", "**/.cache", "**/.cache/**", ".cache", "/a/.cache/"}) {
    CAPTURE(pattern);
    const PathFilter filter({}, {pattern});
    CHECK_FALSE(filter.includes("a/.cache", dir));
    CHECK_FALSE(filter.includes("a/.cache/f", file));
    CHECK_FALSE(filter.includes("a/.cache/d/e/f", file));
    CHECK(filter.includes("a/cache/f", file));
    CHECK(filter.includes("a/.cache2/f", file));
    CHECK_FALSE(filter.should_descend("a/.cache"));
    CHECK_FALSE(filter.should_descend("a/.cache/d"));
    CHECK(filter.should_descend("a"));
    CHECK(filter.should_descend(""));
    const FilterDecision decision = filter.decide("a/.cache/d/f", file);
    CHECK(decision.reason == Reason::ancestor_excluded);
    CHECK(decision.matched_path == "a/.cache");  // the shallowest excluded ancestor
    CHECK(decision.matched_ancestor);
    CHECK(decision.pattern == pattern);
  }
}

TEST_CASE("path_filter: a directory-only exclude does not exclude a file of that name") {
  const PathFilter filter({}, {"build/"});
  CHECK(filter.includes("build", file));
  CHECK_FALSE(filter.includes("build", dir));
  CHECK_FALSE(filter.includes("build/out.o", file));
  CHECK_FALSE(filter.should_descend("src/build"));
}

TEST_CASE("path_filter: include through an ancestor directory") {
  const PathFilter filter({"photos/", "/docs/*.md"}, {"**/*.tmp"});
  CHECK(filter.includes("photos", dir));
  CHECK_FALSE(filter.includes("photos", file));
  CHECK(filter.includes("photos/a.jpg", file));
  CHECK(filter.includes("home/ann/photos/2024/a.jpg", file));
  CHECK_FALSE(filter.includes("home/ann/photos/2024/a.tmp", file));
  CHECK(filter.includes("docs/readme.md", file));
  CHECK_FALSE(filter.includes("docs/readme.txt", file));
  CHECK_FALSE(filter.includes("x/docs/readme.md", file));
  CHECK_FALSE(filter.includes("music/a.mp3", file));

  const FilterDecision via_ancestor = filter.decide("home/photos/2024/a.jpg", file);
  CHECK(via_ancestor.reason == Reason::included_by);
  CHECK(via_ancestor.pattern_index == 0u);
  CHECK(via_ancestor.matched_path == "home/photos");
  CHECK(via_ancestor.matched_ancestor);
  CHECK(describe(via_ancestor) ==
        "included: ancestor directory \"home/photos\" matches include[0] \"photos/\"");

  // Directories are descended even when not included themselves: they may hold included files.
  CHECK(filter.should_descend("music"));
  CHECK(filter.should_descend("home/ann"));
  CHECK_FALSE(filter.includes("music", dir));
}

TEST_CASE("path_filter: should_descend prunes directories whose contents are all excluded") {
  const PathFilter filter({"**/*.jpg"}, {"**/.cache/**", "/build/*", "node_modules/", "*.o"});
  CHECK_FALSE(filter.should_descend(".cache"));
  CHECK_FALSE(filter.should_descend("x/y/.cache"));
  CHECK_FALSE(filter.should_descend("build"));    // `build` itself is kept, its contents are not
  CHECK(filter.includes("build", dir) == false);  // (not included: include list has no match)
  CHECK(filter.should_descend("src/build"));
  CHECK_FALSE(filter.should_descend("web/node_modules"));
  CHECK_FALSE(filter.should_descend("web/node_modules/pkg"));
  CHECK(filter.should_descend("web"));
  CHECK(filter.should_descend(""));
  CHECK(filter.should_descend("x.o.d"));

  const PathFilter everything_excluded({}, {"*"});
  CHECK_FALSE(everything_excluded.should_descend(""));
  CHECK_FALSE(everything_excluded.should_descend("a"));
  const PathFilter top_level_excluded({}, {"/*"});
  CHECK_FALSE(top_level_excluded.should_descend(""));
}

TEST_CASE("path_filter: decide() explains with the deciding pattern") {
  const PathFilter filter({"**/*.jpg"}, {"**/*.tmp", "**/.cache/**"});

  const FilterDecision excluded = filter.decide("a/b.tmp", file);
  CHECK_FALSE(excluded.included);
  CHECK(excluded.reason == Reason::excluded_by);
  CHECK(excluded.pattern_index == 0u);
  CHECK(excluded.pattern == "**/*.tmp");
  CHECK(excluded.matched_path == "a/b.tmp");
  CHECK_FALSE(excluded.matched_ancestor);
  CHECK(describe(excluded) == "excluded: matches exclude[0] \"**/*.tmp\"");

  const FilterDecision ancestor = filter.decide("p/.cache/q/r.jpg", file);
  CHECK(ancestor.reason == Reason::ancestor_excluded);
  CHECK(ancestor.pattern_index == 1u);
  CHECK(describe(ancestor) ==
        "excluded: ancestor directory \"p/.cache\" matches exclude[1] \"**/.cache/**\"");

  const FilterDecision included = filter.decide("p/a.jpg", file);
  CHECK(included.included);
  CHECK(describe(included) == "included: matches include[0] \"**/*.jpg\"");

  const FilterDecision not_included = filter.decide("p/a.png", file);
  CHECK_FALSE(not_included.included);
  CHECK(not_included.reason == Reason::not_included);
  CHECK(describe(not_included).rfind("not included:", 0) == 0);

  const FilterDecision binary = PathFilter({}, {"\xff*"}).decide("d/\xff\x01", file);
  CHECK(describe(binary) == "excluded: matches exclude[0] \"\\xFF*\"");
  CHECK(describe(PathFilter({}, {}).decide("a", file)).rfind("included:", 0) == 0);

  CHECK(to_string(Reason::default_included) == "default_included");
  CHECK(to_string(Reason::included_by) == "included_by");
  CHECK(to_string(Reason::excluded_by) == "excluded_by");
  CHECK(to_string(Reason::not_included) == "not_included");
  CHECK(to_string(Reason::ancestor_excluded) == "ancestor_excluded");
}

TEST_CASE("path_filter: the first matching pattern decides") {
  const PathFilter filter({}, {"*.log", "debug.*", "*"});
  CHECK(filter.decide("debug.log", file).pattern_index == 0u);
  CHECK(filter.decide("debug.txt", file).pattern_index == 1u);
  CHECK(filter.decide("x", file).pattern_index == 2u);
}

TEST_CASE("path_filter: an invalid pattern names its list and index") {
  try {
    const PathFilter filter({"**/*.jpg"}, {"**/*.tmp", "a/[b"});
    FAIL("no exception");
  } catch (const GlobSyntaxError& error) {
    CHECK(error.context() == "exclude[1]");
    CHECK(error.offset() == 2);
    CHECK(std::string(error.what()).rfind("exclude[1]: invalid glob \"a/[b\"", 0) == 0);
  }
  try {
    const PathFilter filter({"ok", ""}, {});
    FAIL("no exception");
  } catch (const GlobSyntaxError& error) {
    CHECK(error.context() == "include[1]");
  }
}

TEST_CASE("path_filter: copies and moves keep working") {
  PathFilter original({"**/*.jpg"}, {"**/.cache/**"});
  const PathFilter copy = original;
  const PathFilter moved = std::move(original);
  CHECK(copy.includes("a/b.jpg", file));
  CHECK_FALSE(copy.includes(".cache/b.jpg", file));
  CHECK(moved.includes("a/b.jpg", file));
  CHECK(copy.include_patterns().size() == 1);
  CHECK(copy.exclude_patterns().at(0).text() == "**/.cache/**");
}
