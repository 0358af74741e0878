// How the S3 store cuts a multipart upload into parts, against the radosgw fixture
// (threshold 6 MiB, parts of 5 MiB).

#include <doctest/doctest.h>

#include <string>

#include "fixtures.hpp"
#include "harness.hpp"
#include "s3_uploads.hpp"

using namespace tetherd;
using namespace tetherd::test;

TEST_CASE("s3: a file of a whole number of parts sends no empty last part") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  const std::string data = pattern(10u << 20, 7);  // exactly two parts of 5 MiB
  auto written = h.write("two-parts.bin", data);
  REQUIRE(written.ok());
  // A multipart object's ETag ends with "-<number of parts>".
  const std::string etag = listed_etag(h.fixture.cluster, h.fixture.prefix + "/two-parts.bin");
  CHECK(etag.find("-2") != std::string::npos);
  CHECK(*h.read("two-parts.bin") == data);
}
