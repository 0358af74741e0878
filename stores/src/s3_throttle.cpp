#include "s3_throttle.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string>

#include "s3_xml.hpp"

namespace tetherd::stores::s3 {

bool throttled(const HttpResponse& response) {
  if (response.status == 429 || response.status == 503) return true;
  if (response.status < 300) return false;
  const auto body = parse_error(response.body);
  return body && body->code == "SlowDown";
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r'))
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() >= '0' && value.front() <= '9') {
    std::int64_t seconds = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (parsed.ec != std::errc() || parsed.ptr != value.data() + value.size())
      return std::nullopt;  // out of range, or "5 s", "1.5"
    return std::chrono::seconds(seconds);
  }
  // IMF-fixdate, the form HTTP/1.1 senders must use: "Sun, 06 Nov 1994 08:49:37 GMT".
  const std::string text(value);
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (when <= now) return std::chrono::seconds(0);
  return std::chrono::ceil<std::chrono::seconds>(when - now);
}

std::chrono::milliseconds throttle_delay(const ThrottlePolicy& policy, int retry,
                                         std::optional<std::chrono::seconds> retry_after,
                                         double jitter) {
  using std::chrono::milliseconds;
  jitter = std::clamp(jitter, 0.0, 1.0);
  // 2^retry, without overflowing for large `retry`: past the cap it no longer matters.
  milliseconds exponential = policy.base;
  for (int i = 0; i < retry && exponential < policy.cap; ++i)
    exponential *= 2;
  exponential = std::min(exponential, policy.cap);
  const auto half = exponential / 2;
  milliseconds delay =
      half +
      milliseconds(static_cast<milliseconds::rep>(static_cast<double>(half.count()) * jitter));
  if (retry_after) delay = std::max<milliseconds>(delay, *retry_after);
  return std::min(delay, policy.cap);
}

}  // namespace tetherd::stores::s3
