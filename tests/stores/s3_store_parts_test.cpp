// How the S3 store cuts a multipart upload into parts, against the radosgw fixture
// (threshold 6 MiB, parts of 5 MiB).

#include <doctest/doctest.h>

#include <string>

#include "fixtures.hpp"
#include "harness.hpp"

using namespace tetherd;
using namespace tetherd::test;

TEST_CASE("s3: a file of a whole number of parts sends no empty last part") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  const std::string data = pattern(10u << 20, 7);  // exactly two parts of 5 MiB
  auto written = h.write("two-parts.bin", data);
  REQUIRE(written.ok());
  // A multipart object's ETag ends with "-<number of parts>" (the listing shows it).
  auto listed = h.fixture.cluster.call(
      "GET", "", {{"list-type", "2"}, {"prefix", h.fixture.prefix + "/two-parts.bin"}});
  REQUIRE(listed.status == 200);
  const auto begin = listed.body.find("<ETag>");
  const auto end = listed.body.find("</ETag>");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  const std::string etag = listed.body.substr(begin + 6, end - begin - 6);
  CHECK(etag.find("-2") != std::string::npos);
  CHECK(*h.read("two-parts.bin") == data);
}
