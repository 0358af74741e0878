#pragma once

// What the S3 tests look at on the radosgw fixture behind the store's back: the multipart
// uploads left in progress, and how many parts an object was uploaded in.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "s3_fixture.hpp"
#include "s3_xml.hpp"

namespace tetherd::test {

/// The multipart uploads in progress under `prefix` (ListMultipartUploads).
inline std::vector<stores::s3::UploadInProgress> uploads_under(RadosgwCluster& cluster,
                                                               const std::string& prefix) {
  auto response = cluster.call("GET", "", {{"uploads", ""}, {"prefix", prefix + "/"}});
  REQUIRE(response.status == 200);
  auto uploads = stores::s3::parse_uploads(response.body);
  REQUIRE(uploads.has_value());
  return *uploads;
}

/// The ETag radosgw lists for `key` (a full key): "...-N" for an object made of N parts.
inline std::string listed_etag(RadosgwCluster& cluster, const std::string& key) {
  auto response = cluster.call("GET", "", {{"list-type", "2"}, {"prefix", key}, {"max-keys", "1"}});
  REQUIRE(response.status == 200);
  const auto open = response.body.find("<ETag>");
  const auto close = response.body.find("</ETag>");
  REQUIRE(open != std::string::npos);
  REQUIRE(close != std::string::npos);
  return response.body.substr(open + 6, close - open - 6);
}

}  // namespace tetherd::test
