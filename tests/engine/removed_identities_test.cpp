#include "tetherd/engine/removed_identities.hpp"

#include <doctest/doctest.h>

#include <string>

using tetherd::daemon::RemovedIdentities;

TEST_CASE("RemovedIdentities hands a removed path out once, by device and inode") {
  RemovedIdentities removed;
  removed.note(1, 42, "old/name");
  CHECK_FALSE(removed.take(2, 42).has_value());  // same inode on another device
  CHECK_FALSE(removed.take(1, 43).has_value());
  CHECK(removed.take(1, 42) == std::optional<std::string>("old/name"));
  CHECK_FALSE(removed.take(1, 42).has_value());
}

TEST_CASE("RemovedIdentities keeps the latest removal of an identity") {
  RemovedIdentities removed;
  removed.note(1, 7, "a");
  removed.note(1, 7, "b");
  CHECK(removed.size() == 1);
  CHECK(removed.take(1, 7) == std::optional<std::string>("b"));
}

TEST_CASE("RemovedIdentities stays bounded and can be cleared") {
  RemovedIdentities removed;
  for (std::uint64_t inode = 0; inode < RemovedIdentities::kMaxKept + 10; ++inode) {
    removed.note(1, inode, "f" + std::to_string(inode));
  }
  CHECK(removed.size() == RemovedIdentities::kMaxKept);
  CHECK_FALSE(removed.take(1, RemovedIdentities::kMaxKept + 5).has_value());
  removed.clear();
  CHECK(removed.size() == 0);
}
