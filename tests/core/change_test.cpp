#include "tetherd/core/change.hpp"

#include <doctest/doctest.h>

using namespace tetherd::core;

TEST_CASE("Change factories fill the fields their kind uses") {
  const Change moved = Change::moved("a", "b/c", true, 42u);
  CHECK(moved.kind == ChangeKind::moved);
  CHECK(moved.path == "a");
  CHECK(moved.to_path == "b/c");
  CHECK(moved.is_dir);
  CHECK(moved.cookie == std::optional<std::uint32_t>(42u));
  const Change rescan = Change::rescan("sub", "unmounted");
  CHECK(rescan.path == "sub");
  CHECK_FALSE(rescan.queue_overflow);
  const Change overflow = Change::overflow();
  CHECK(overflow.kind == ChangeKind::rescan);
  CHECK(overflow.path.empty());
  CHECK(overflow.queue_overflow);
  CHECK(Change::root_gone("deleted").kind == ChangeKind::root_gone);
  CHECK(Change::created("x", false) == Change::created("x", false));
  CHECK_FALSE(Change::created("x", false) == Change::created("x", true));
}

TEST_CASE("ChangeKind names and join_relative") {
  CHECK(to_string(ChangeKind::created) == "created");
  CHECK(to_string(ChangeKind::root_gone) == "root_gone");
  CHECK(join_relative("", "a") == "a");
  CHECK(join_relative("a/b", "c") == "a/b/c");
  CHECK(join_relative("a", "") == "a");
}
