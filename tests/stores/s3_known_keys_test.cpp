// KnownKeys without a server: which checks it may answer, and that it answers only
// below a prefix seen complete.

#include "s3_known_keys.hpp"

#include <doctest/doctest.h>

using tetherd::stores::s3::KnownKeys;

TEST_CASE("s3 known keys: nothing is known below a prefix not seen complete") {
  KnownKeys keys;
  keys.exists("p/a/f");
  CHECK(keys.may_be_file("p/a/g"));
  CHECK(keys.may_have_children("p/a/g"));
  CHECK_FALSE(keys.certainly_missing("p/x"));
}

TEST_CASE("s3 known keys: below a complete prefix, what was not seen is not there") {
  KnownKeys keys;
  keys.exists("p/a/b/f");
  keys.exists("p/m/");  // a marker: a directory
  keys.complete("p/");
  CHECK(keys.may_be_file("p/a/b/f"));
  CHECK(keys.may_have_children("p/a"));
  CHECK(keys.may_have_children("p/a/b"));
  CHECK(keys.may_have_children("p/m"));
  CHECK_FALSE(keys.may_be_file("p/a"));  // a directory, not an object
  CHECK_FALSE(keys.may_be_file("p/m"));
  CHECK_FALSE(keys.may_have_children("p/a/b/f"));
  CHECK(keys.certainly_missing("p/a/new"));
  CHECK(keys.certainly_missing("p/a/b/c/deeper"));
  // The complete prefix's own key lies above it: unknown.
  CHECK(keys.may_be_file("p"));
  CHECK_FALSE(keys.certainly_missing("q/x"));
}

TEST_CASE("s3 known keys: objects created after completeness are known, deletes forget files") {
  KnownKeys keys;
  keys.complete("p/d/");
  keys.exists("p/d/x/y/f");
  CHECK(keys.may_have_children("p/d/x"));
  CHECK(keys.may_have_children("p/d/x/y"));
  CHECK(keys.may_be_file("p/d/x/y/f"));
  keys.deleted("p/d/x/y/f");
  CHECK_FALSE(keys.may_be_file("p/d/x/y/f"));
  // The directories it made stay: possibly gone, so they get a real check.
  CHECK(keys.may_have_children("p/d/x/y"));
}

TEST_CASE("s3 known keys: the whole bucket as the complete prefix") {
  KnownKeys keys;
  keys.exists("top");
  keys.complete("");
  CHECK(keys.may_be_file("top"));
  CHECK(keys.certainly_missing("other"));
  CHECK(keys.certainly_missing("a/b"));
}
