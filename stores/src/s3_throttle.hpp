#pragma once

// Throttled answers (the server asking us to slow down) and how long to wait before the
// store asks again. Pure functions: the store's send (s3_store_send.cpp) applies them.

#include <chrono>
#include <optional>
#include <string_view>

#include "s3_http.hpp"

namespace tetherd::stores::s3 {

/// Whether `response` asks the client to slow down: HTTP 429, HTTP 503, or S3's SlowDown
/// error code (which radosgw and AWS send with 503). Such a request was not carried out,
/// so sending it again is safe whatever it does.
bool throttled(const HttpResponse& response);

/// The delay a Retry-After header asks for: delta-seconds ("120") or an HTTP date
/// ("Mon, 07 Dec 2026 18:00:00 GMT", IMF-fixdate), the latter relative to `now` (a date in
/// the past: zero). nullopt for anything else (negative, garbage, other date formats).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

struct ThrottlePolicy {
  /// The first retry waits about this long; each further one twice as long as the last.
  std::chrono::milliseconds base{200};
  /// No wait is longer, whatever the server asks for.
  std::chrono::milliseconds cap{std::chrono::seconds(60)};
};

/// The wait before retry number `retry` (0 = the first): base * 2^retry, of which the upper
/// half is scaled by `jitter` (in [0, 1]: "equal jitter", so clients throttled together do
/// not come back together), raised to `retry_after` when the server asked for longer, and
/// capped at policy.cap.
std::chrono::milliseconds throttle_delay(const ThrottlePolicy& policy, int retry,
                                         std::optional<std::chrono::seconds> retry_after,
                                         double jitter);

}  // namespace tetherd::stores::s3
