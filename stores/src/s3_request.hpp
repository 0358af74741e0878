#pragma once

// How one S3 call becomes an HTTP request (URL, addressing style, signed headers), and how
// a failed HTTP answer becomes a StoreError.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "s3_http.hpp"
#include "s3_sigv4.hpp"
#include "tetherd/core/errors.hpp"
#include "tetherd/core/result.hpp"

namespace tetherd::stores::s3 {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Endpoint {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< "127.0.0.1:7480"
  std::string bucket;
  std::string region;
  bool path_style = true;
  Credentials credentials;

  /// Parses "scheme://host[:port]" (a trailing '/' allowed).
  static core::Result<Endpoint> parse(const std::string& url);
};

/// A signed request for `object_key` (the full key in the bucket; "" for the bucket
/// itself). The body's SHA-256 is sent as x-amz-content-sha256 and signed, as is the session
/// token (x-amz-security-token) of temporary credentials.
HttpRequest make_request(const Endpoint& endpoint, std::string method,
                         const std::string& object_key, const Pairs& query, Pairs headers,
                         std::string body, std::chrono::system_clock::time_point now);

/// The error a failed response means (status >= 300 or a transport failure). `what`
/// prefixes the detail ("PUT"); the S3 code and message follow.
core::StoreError map_failure(const HttpResponse& response, const std::string& what);

}  // namespace tetherd::stores::s3
