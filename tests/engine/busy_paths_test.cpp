#include "tetherd/engine/busy_paths.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using tetherd::daemon::BusyPaths;

namespace {

// The answer as a value: "-" for nothing overlapping.
std::string overlap(const BusyPaths& busy, std::string_view path) {
  const std::string* found = busy.overlapping(path);
  return found ? *found : "-";
}

std::vector<std::string> release(BusyPaths& busy, std::string_view path) {
  std::vector<std::string> freed;
  busy.release(path, [&freed](const std::string& key) { freed.push_back(key); });
  return freed;
}

}  // namespace

TEST_CASE("nothing overlaps while nothing is busy") {
  BusyPaths busy;
  CHECK(busy.empty());
  CHECK(overlap(busy, "") == "-");
  CHECK(overlap(busy, "a/b") == "-");
}

TEST_CASE("a busy path blocks itself, what lies within it, and what contains it") {
  BusyPaths busy;
  busy.occupy("a/b");
  CHECK(overlap(busy, "a/b") == "a/b");
  CHECK(overlap(busy, "a/b/c") == "a/b");
  CHECK(overlap(busy, "a/b/c/d") == "a/b");
  // Its ancestors wait for what lies within them: they are named themselves.
  CHECK(overlap(busy, "a") == "a");
  CHECK(overlap(busy, "") == "");
}

TEST_CASE("siblings and look-alike names do not overlap") {
  BusyPaths busy;
  busy.occupy("a/b");
  CHECK(overlap(busy, "a/c") == "-");
  CHECK(overlap(busy, "a/b-c") == "-");
  CHECK(overlap(busy, "a/bc/d") == "-");
  CHECK(overlap(busy, "ab") == "-");
  CHECK(overlap(busy, "b") == "-");
}

TEST_CASE("a busy root overlaps every path") {
  BusyPaths busy;
  busy.occupy("");
  CHECK(overlap(busy, "") == "");
  CHECK(overlap(busy, "x") == "");
  CHECK(overlap(busy, "x/y/z") == "");
}

TEST_CASE("release frees the path, then each ancestor with nothing busy left within it") {
  BusyPaths busy;
  busy.occupy("a/b/c");
  busy.occupy("a/x");
  CHECK(release(busy, "a/b/c") == std::vector<std::string>{"a/b/c", "a/b"});
  // "a" and the root still have "a/x" within them.
  CHECK(overlap(busy, "a") == "a");
  CHECK(overlap(busy, "a/b") == "-");
  CHECK(release(busy, "a/x") == std::vector<std::string>{"a/x", "", "a"});
  CHECK(busy.empty());
  CHECK(overlap(busy, "a") == "-");
  CHECK(overlap(busy, "") == "-");
}

TEST_CASE("a path occupied twice stays busy until both are released") {
  BusyPaths busy;
  busy.occupy("d/f");
  busy.occupy("d/f");
  CHECK(busy.size() == 1);
  CHECK(release(busy, "d/f").empty());
  CHECK(overlap(busy, "d/f") == "d/f");
  CHECK(overlap(busy, "d") == "d");
  CHECK(release(busy, "d/f") == std::vector<std::string>{"d/f", "", "d"});
  CHECK(overlap(busy, "d") == "-");
}

TEST_CASE("releasing a path never occupied changes nothing") {
  BusyPaths busy;
  busy.occupy("a");
  CHECK(release(busy, "b").empty());
  CHECK(release(busy, "a/b").empty());
  CHECK(overlap(busy, "a") == "a");
  CHECK(overlap(busy, "") == "");
}

TEST_CASE("an ancestor that is itself busy is the answer for paths below it") {
  BusyPaths busy;
  busy.occupy("a");
  busy.occupy("a/b/c");  // not what the engine does (in-flight paths never overlap), but
                         // rename old paths may: the answer is still a blocking path
  CHECK(overlap(busy, "a/b/c/d") != "-");
  CHECK(overlap(busy, "a/b") == "a/b");  // what lies within is asked first
  // The root is not freed with "a": "a/b/c" still lies within it.
  CHECK(release(busy, "a") == std::vector<std::string>{"a"});
  CHECK(overlap(busy, "a/b") == "a/b");
  CHECK(overlap(busy, "") == "");
}
