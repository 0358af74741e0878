// SourceHintFences: a hint is stale once a fence over its path is newer than its stamp.

#include "tetherd/engine/source_hint_fences.hpp"

#include <doctest/doctest.h>

#include <string>

namespace tetherd::daemon {
namespace {

TEST_CASE("a hint stays good until a fence is raised over its path") {
  SourceHintFences fences;
  const auto stamp = fences.current();
  CHECK(fences.still_valid("a/b", stamp));
  fences.raise("x");  // elsewhere
  CHECK(fences.still_valid("a/b", stamp));
  CHECK(fences.still_valid("xy", stamp));  // a sibling that shares the prefix
  CHECK_FALSE(fences.still_valid("x", stamp));
  CHECK_FALSE(fences.still_valid("x/deep/file", stamp));
  fences.raise("a");
  CHECK_FALSE(fences.still_valid("a/b", stamp));
  CHECK(fences.still_valid("ab", stamp));
}

TEST_CASE("a hint stamped after the fence is good") {
  SourceHintFences fences;
  fences.raise("d");
  const auto later = fences.current();
  CHECK(fences.still_valid("d/f", later));
  fences.raise("d/f");
  CHECK_FALSE(fences.still_valid("d/f", later));
  CHECK(fences.still_valid("d/g", later));
}

TEST_CASE("a fence at the root covers everything") {
  SourceHintFences fences;
  const auto stamp = fences.current();
  fences.raise("");
  CHECK_FALSE(fences.still_valid("", stamp));
  CHECK_FALSE(fences.still_valid("any/path", stamp));
  CHECK(fences.still_valid("any/path", fences.current()));
}

TEST_CASE("too many fences fold into a floor that makes every older hint stale") {
  SourceHintFences fences;
  const auto old_stamp = fences.current();
  for (std::size_t index = 0; index < SourceHintFences::kMaxFences; ++index) {
    fences.raise("dir" + std::to_string(index));
  }
  CHECK(fences.size() == SourceHintFences::kMaxFences);
  const auto before_fold = fences.current();
  CHECK(fences.still_valid("elsewhere", before_fold));
  fences.raise("one/more");
  CHECK(fences.size() == 0);
  CHECK_FALSE(fences.still_valid("elsewhere", old_stamp));
  CHECK_FALSE(fences.still_valid("elsewhere", before_fold));
  CHECK(fences.still_valid("elsewhere", fences.current()));
  fences.raise("x");
  CHECK(fences.still_valid("elsewhere", fences.current() - 1));
  CHECK_FALSE(fences.still_valid("x", fences.current() - 1));
}

}  // namespace
}  // namespace tetherd::daemon
