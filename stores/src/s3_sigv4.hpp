#pragma once

// AWS Signature Version 4 (the S3 flavour): canonical request, string to sign, signing key
// and Authorization header, plus the digests and encodings it needs (OpenSSL SHA-256 and
// HMAC-SHA256). Pure functions, no I/O, no clock: the caller supplies the request time, so
// the published test vectors reproduce exactly.
//
// Why our own signer: curl 7.88's CURLOPT_AWS_SIGV4 neither sends x-amz-content-sha256 nor
// canonicalizes the query string, and servers that verify payload hashes (radosgw, AWS)
// refuse what it signs. Keeping the signer here also lets one signature cover exactly the
// headers we send.

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tetherd::stores::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;  ///< never logged, never put in an error message
  /// Temporary (STS) credentials only: sent as x-amz-security-token, which S3 wants signed
  /// like any other header. Empty for long-term keys.
  std::string session_token = {};
};

/// One request as the signer sees it. The canonical URI is taken as given (S3: the path
/// percent-encoded once, '/' kept; no normalization of "." or ".." segments). Query
/// parameters are raw (decoded) names and values: the signer encodes and sorts them.
/// Headers are raw names and values: the signer lower-cases names, trims values, collapses
/// inner runs of spaces and signs every header given (include host and x-amz-date).
struct SigningInput {
  std::string method;
  std::string canonical_uri;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  ///< hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  ///< "host;x-amz-date"
  std::string signature;       ///< lower-case hex
  std::string authorization;   ///< the Authorization header's value
};

/// Signs for `region` and `service` ("s3") at `amz_date` ("20150830T123600Z").
Signature sign_v4(const SigningInput& input, const Credentials& credentials,
                  std::string_view region, std::string_view service, std::string_view amz_date);

/// "20150830T123600Z" for a time point (UTC).
std::string amz_date(std::chrono::system_clock::time_point when);

/// Percent-encodes every byte but the unreserved ones (A-Z a-z 0-9 - _ . ~), upper-case
/// hex, as SigV4 and S3 expect; with keep_slash, '/' stays as is (object key paths).
std::string uri_encode(std::string_view bytes, bool keep_slash);

/// The canonical query string: names and values encoded, sorted by name then value,
/// joined with '&' ("" when there are none). Also what goes on the wire after '?'.
std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query);

std::string sha256_hex(std::string_view data);
/// Base64 of the MD5 digest (the Content-MD5 header).
std::string md5_base64(std::string_view data);
std::string hex(std::string_view bytes);

}  // namespace tetherd::stores::s3
