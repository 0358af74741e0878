// StandingErrors: what stands until a later look succeeds, and what only a live look clears.

#include "tetherd/engine/standing_errors.hpp"

#include <doctest/doctest.h>

namespace tetherd::daemon {
namespace {

using Kind = StandingErrors::Kind;
using Cleared = StandingErrors::Cleared;

TEST_CASE("a failed action stands until any later look at its path succeeds") {
  StandingErrors errors;
  errors.stand("b/file", Kind::action, "no space");
  errors.stand("a", Kind::action, "denied");
  CHECK(errors.size() == 2);
  CHECK(errors.first_path() == "a");
  CHECK(errors.first_message() == "denied");
  errors.stand("a", Kind::action, "denied again");
  CHECK(errors.size() == 2);
  CHECK(errors.first_message() == "denied again");
  CHECK(errors.clear("elsewhere", false) == Cleared::nothing);
  CHECK(errors.clear("a", false) == Cleared::action);
  CHECK(errors.first_path() == "b/file");
  CHECK(errors.clear("b/file", true) == Cleared::action);
  CHECK(errors.empty());
}

TEST_CASE("an unreadable directory stands until a live change to it") {
  StandingErrors errors;
  errors.stand("locked", Kind::unreadable_directory, "permission denied");
  CHECK(errors.clear("locked", false) == Cleared::nothing);
  CHECK(errors.size() == 1);
  CHECK(errors.clear("locked", true) == Cleared::unreadable_directory);
  CHECK(errors.empty());
}

TEST_CASE("a walk clears what stood before it began, not what failed while it went on") {
  StandingErrors errors;
  errors.stand("d/old", Kind::action, "failed before the walk");
  errors.stand("d/again", Kind::action, "failed before the walk");
  const auto mark = errors.mark();
  // The walk's differences are examined while it goes on: one fails (again), one is new.
  errors.stand("d/again", Kind::action, "failed again during the walk");
  errors.stand("d/new", Kind::action, "a type change kept back");
  errors.clear_within("d", mark);
  CHECK(errors.size() == 2);
  CHECK(errors.first_path() == "d/again");
  CHECK(errors.first_message() == "failed again during the walk");
  CHECK(errors.clear("d/new", false) == Cleared::action);
  // Without a mark, everything within goes.
  errors.clear_within("d");
  CHECK(errors.empty());
}

TEST_CASE("a walk of a subtree clears what stands within it, and only that") {
  StandingErrors errors;
  for (const char* path : {"a", "a/x", "a/x/y", "a-b", "a.c", "ab", "b", "a0"}) {
    errors.stand(path, Kind::action, "failed");
  }
  errors.clear_within("a");
  CHECK(errors.size() == 5);
  CHECK(errors.first_path() == "a-b");
  CHECK(errors.clear("a/x", true) == Cleared::nothing);
  errors.clear_within("");
  CHECK(errors.empty());
}

}  // namespace
}  // namespace tetherd::daemon
