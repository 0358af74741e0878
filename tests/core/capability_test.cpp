#include "tetherd/core/capability.hpp"

#include <doctest/doctest.h>

using namespace tetherd::core;

TEST_CASE("capability names round-trip") {
  for (auto capability : all_capabilities()) {
    auto name = to_string(capability);
    CHECK(name != "UNKNOWN");
    CHECK(capability_from_string(name) == capability);
  }
  CHECK(all_capabilities().size() == 20);
  CHECK_FALSE(capability_from_string("read").has_value());
  CHECK(is_gate(Capability::Mkdir));
  CHECK_FALSE(is_gate(Capability::Durable));
}

TEST_CASE("CapabilitySet add, remove, print") {
  CapabilitySet set{Capability::Read, Capability::Write};
  CHECK(set.has(Capability::Read));
  CHECK_FALSE(set.has(Capability::Move));
  set.add(Capability::AtomicMove).remove(Capability::Write);
  CHECK_FALSE(set.has(Capability::Write));
  set.mtime_precision = std::chrono::nanoseconds(1);
  set.hashes = {"sha256", "md5"};
  CHECK(set.to_string() == "READ|ATOMIC_MOVE mtime_precision=1ns hashes=md5,sha256");
  set.mtime_clock_skew = std::chrono::milliseconds(20);
  CHECK(set.to_string() ==
        "READ|ATOMIC_MOVE mtime_precision=1ns mtime_clock_skew=20000000ns hashes=md5,sha256");
  CHECK(CapabilitySet{}.to_string() == "(none)");
  CHECK(set.list().size() == 2);
}
