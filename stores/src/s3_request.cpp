#include "s3_request.hpp"

#include <curl/curl.h>

#include <chrono>

#include "s3_throttle.hpp"
#include "s3_xml.hpp"

namespace tetherd::stores::s3 {

using core::Errc;
using core::StoreError;

core::Result<Endpoint> Endpoint::parse(const std::string& url) {
  Endpoint endpoint;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return StoreError::make(Errc::InvalidPath, "endpoint '" + url + "' is not scheme://host");
  endpoint.scheme = url.substr(0, scheme_end);
  if (endpoint.scheme != "http" && endpoint.scheme != "https")
    return StoreError::make(Errc::InvalidPath,
                            "endpoint '" + url + "': only http and https are supported");
  endpoint.host = url.substr(scheme_end + 3);
  if (!endpoint.host.empty() && endpoint.host.back() == '/') endpoint.host.pop_back();
  if (endpoint.host.empty() || endpoint.host.find_first_of("/?#@ ") != std::string::npos)
    return StoreError::make(Errc::InvalidPath,
                            "endpoint '" + url + "' must be scheme://host[:port], no path");
  return endpoint;
}

HttpRequest make_request(const Endpoint& endpoint, std::string method,
                         const std::string& object_key, const Pairs& query, Pairs headers,
                         std::string body, std::chrono::system_clock::time_point now) {
  std::string host = endpoint.host;
  std::string path = "/";
  if (endpoint.path_style) {
    path += uri_encode(endpoint.bucket, false);
    if (!object_key.empty()) path += '/';
  } else {
    host = endpoint.bucket + "." + host;
  }
  path += uri_encode(object_key, true);
  const std::string date = amz_date(now);
  const std::string payload_hash = sha256_hex(body);
  headers.emplace_back("Host", host);
  headers.emplace_back("x-amz-date", date);
  headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!endpoint.credentials.session_token.empty()) {
    headers.emplace_back("x-amz-security-token", endpoint.credentials.session_token);
  }
  SigningInput input{method, path, query, headers, payload_hash};
  auto signature = sign_v4(input, endpoint.credentials, endpoint.region, "s3", date);
  headers.emplace_back("Authorization", signature.authorization);

  HttpRequest request;
  request.method = std::move(method);
  request.url = endpoint.scheme + "://" + host + path;
  auto query_text = canonical_query(query);
  if (!query_text.empty()) request.url += "?" + query_text;
  request.headers = std::move(headers);
  request.body = std::move(body);
  return request;
}

StoreError map_failure(const HttpResponse& response, const std::string& what) {
  if (response.status == 0) {
    const auto code = static_cast<CURLcode>(response.transport_code);
    StoreError error;
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        error = StoreError::make(Errc::Timeout);
        error.retryable = true;
        break;
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
      case CURLE_HTTP2:
      case CURLE_HTTP2_STREAM:
        error = StoreError::make(Errc::Unavailable);
        error.retryable = true;
        break;
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CACERT_BADFILE:
        // TLS refused: retrying will not help until someone fixes certificates.
        error = StoreError::make(Errc::Unavailable);
        error.retryable = false;
        break;
      default:
        error = StoreError::make(Errc::Protocol);
        break;
    }
    error.native_code = response.transport_code;
    error.native_name = std::string("CURLE ") + curl_easy_strerror(code);
    error.detail = what + ": " + response.transport_error;
    return error;
  }
  const auto body = parse_error(response.body);
  const std::string s3_code = body ? body->code : std::string();
  const long status = response.status;
  Errc code = Errc::Protocol;
  bool retryable = false;
  std::string hint;
  if (status == 404 || s3_code == "NoSuchKey") {
    code = Errc::NotFound;
    if (s3_code == "NoSuchBucket") hint = " (the bucket does not exist)";
  } else if (s3_code == "SignatureDoesNotMatch") {
    code = Errc::PermissionDenied;
    hint = " (check the secret key, and this host's clock: SigV4 allows 15 minutes of skew)";
  } else if (status == 403 || s3_code == "AccessDenied" || s3_code == "InvalidAccessKeyId") {
    code = Errc::PermissionDenied;
  } else if (status == 412) {
    code = Errc::PreconditionFailed;
  } else if (s3_code == "BadDigest" || s3_code == "XAmzContentSHA256Mismatch" ||
             s3_code == "InvalidDigest") {
    code = Errc::Corrupted;
  } else if (status == 429 || status == 503 || s3_code == "SlowDown") {
    code = Errc::RateLimited;
    retryable = true;
  } else if (status >= 500) {
    code = Errc::Unavailable;
    retryable = true;
  } else if (s3_code == "EntityTooLarge") {
    code = Errc::NoSpace;
  }
  StoreError error = StoreError::make(code);
  error.retryable = retryable;
  error.native_code = static_cast<int>(status);
  error.native_name = "HTTP " + std::to_string(status) + (s3_code.empty() ? "" : " " + s3_code);
  error.detail = what;
  if (body && !body->message.empty()) error.detail += ": " + body->message;
  error.detail += hint;
  if (retryable) {
    if (const auto* header = response.header("retry-after")) {
      error.retry_after = parse_retry_after(*header, std::chrono::system_clock::now());
    }
  }
  return error;
}

}  // namespace tetherd::stores::s3
