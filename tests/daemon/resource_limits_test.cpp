// How many writes a rule keeps in flight: bounded by the descriptors they hold, shared
// between rules, and within [16, 4096].

#include "tetherd/service/resource_limits.hpp"

#include <doctest/doctest.h>

using tetherd::daemon::writes_in_flight_per_rule;

TEST_CASE("writes in flight: what the open-file limit allows, between 16 and 4096") {
  CHECK(writes_in_flight_per_rule(1024, 1) == (1024 - 128) / 3);
  CHECK(writes_in_flight_per_rule(4096, 1) == (4096 - 128) / 3);
  CHECK(writes_in_flight_per_rule(20000, 1) == 4096);
  CHECK(writes_in_flight_per_rule(1 << 20, 1) == 4096);
  // Rules share the descriptors.
  CHECK(writes_in_flight_per_rule(20000, 4) == (20000 - 128) / 12);
  // A tiny limit still lets a rule make progress; none at all counts as one rule.
  CHECK(writes_in_flight_per_rule(100, 1) == 16);
  CHECK(writes_in_flight_per_rule(20000, 0) == 4096);
}
