// Throttling: the pure parts (Retry-After, the backoff) and the store's retries through the
// real curl path against a scripted local HTTP server (scripted_http_server.hpp), because
// radosgw cannot be made to throttle on demand. No wall-clock thresholds: the tests count
// requests and check outcomes.

#include "s3_throttle.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "harness.hpp"
#include "scripted_http_server.hpp"
#include "tetherd/stores/s3_store.hpp"

using namespace tetherd;
using namespace tetherd::test;
using namespace std::chrono_literals;
using core::Errc;
using stores::s3::parse_retry_after;
using stores::s3::throttle_delay;
using stores::s3::ThrottlePolicy;

namespace {

// 2026-12-07 18:00:00 UTC
const auto kNow = std::chrono::system_clock::from_time_t(1796666400);

const std::string kSlowDown =
    "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request "
    "rate.</Message></Error>";
const std::string kEmptyListing =
    "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>"
    "</ListBucketResult>";

stores::S3StoreOptions options_for(const ScriptedHttpServer& server) {
  stores::S3StoreOptions options;
  options.endpoint = server.endpoint();
  options.bucket = "b";
  options.access_key = "key";
  options.secret_key = "secret";
  options.throttle_base_delay = 10ms;
  options.abort_stale_uploads = false;  // its listing would be one more request to count
  return options;
}

void close_store(TestLoop& loop, const core::StorePtr& store) {
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

core::Result<void> check(TestLoop& loop, const core::StorePtr& store) {
  return loop.await<void>(
      [&](core::Callback<void> done) { stores::check_s3_store(store, std::move(done)); });
}

}  // namespace

TEST_CASE("s3 throttle: Retry-After is delta-seconds or an HTTP date") {
  CHECK(parse_retry_after("1", kNow) == 1s);
  CHECK(parse_retry_after(" 120 ", kNow) == 120s);
  CHECK(parse_retry_after("0", kNow) == 0s);
  CHECK(parse_retry_after("Mon, 07 Dec 2026 18:00:30 GMT", kNow) == 30s);
  // A date already past asks for no wait at all.
  CHECK(parse_retry_after("Mon, 07 Dec 2026 17:00:00 GMT", kNow) == 0s);
  CHECK_FALSE(parse_retry_after("", kNow));
  CHECK_FALSE(parse_retry_after("-5", kNow));
  CHECK_FALSE(parse_retry_after("1.5", kNow));
  CHECK_FALSE(parse_retry_after("5 s", kNow));
  CHECK_FALSE(parse_retry_after("99999999999999999999999", kNow));
  CHECK_FALSE(parse_retry_after("Monday, 07-Dec-26 18:00:30 GMT", kNow));
  CHECK_FALSE(parse_retry_after("Mon, 07 Dec 2026 18:00:30 GMT trailing", kNow));
}

TEST_CASE(
    "s3 throttle: the backoff doubles, jitters its upper half, honours Retry-After, is capped") {
  const ThrottlePolicy policy{100ms, 60s};
  CHECK(throttle_delay(policy, 0, std::nullopt, 0.0) == 50ms);
  CHECK(throttle_delay(policy, 0, std::nullopt, 1.0) == 100ms);
  CHECK(throttle_delay(policy, 1, std::nullopt, 1.0) == 200ms);
  CHECK(throttle_delay(policy, 2, std::nullopt, 0.5) == 300ms);
  CHECK(throttle_delay(policy, 0, 1s, 0.0) == 1000ms);  // the server's wait wins
  CHECK(throttle_delay(policy, 3, 0s, 1.0) == 800ms);   // ...unless ours is longer
  CHECK(throttle_delay(policy, 0, 120s, 0.0) == 60s);
  CHECK(throttle_delay(policy, 40, std::nullopt, 1.0) == 60s);  // no overflow
  CHECK(throttle_delay(policy, 1000, std::nullopt, 2.0) == 60s);
}

TEST_CASE("s3 throttle: a SlowDown with Retry-After: 1 is sent again and then succeeds") {
  ScriptedHttpServer server([](const ScriptedRequest&, std::size_t index) {
    if (index == 0) return ScriptedAnswer{503, {{"Retry-After", "1"}}, kSlowDown};
    return ScriptedAnswer{200, {{"Content-Type", "application/xml"}}, kEmptyListing};
  });
  TestLoop loop;
  auto store = *stores::open_s3_store(loop.executor(), options_for(server));
  auto result = check(loop, store);
  CHECK_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message()));
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == requests[1].target);
  close_store(loop, store);
}

TEST_CASE("s3 throttle: a throttled PUT is sent again with its body") {
  ScriptedHttpServer server([](const ScriptedRequest& request, std::size_t) {
    static int puts = 0;
    if (request.method != "PUT")
      return ScriptedAnswer{200, {{"Content-Type", "application/xml"}}, kEmptyListing};
    // The first PUT: 429 with Retry-After as a date long past (no wait asked).
    if (puts++ == 0)
      return ScriptedAnswer{429, {{"Retry-After", "Thu, 01 Jan 2015 00:00:00 GMT"}}, {}};
    return ScriptedAnswer{200, {{"ETag", "\"5d41402abc4b2a76b9719d911017c592\""}}, {}};
  });
  TestLoop loop;
  auto store = *stores::open_s3_store(loop.executor(), options_for(server));
  auto result = loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
    store->write(key("f.txt"),
                 core::MemoryByteSource::make(loop.executor(), core::to_bytes("hello")), {}, done);
  });
  CHECK_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message()));
  std::vector<ScriptedRequest> puts;
  for (const auto& request : server.requests())
    if (request.method == "PUT") puts.push_back(request);
  REQUIRE(puts.size() == 2);
  CHECK(puts[0].body == "hello");
  CHECK(puts[1].body == "hello");
  close_store(loop, store);
}

TEST_CASE("s3 throttle: after throttle_retries more attempts the RateLimited error surfaces") {
  ScriptedHttpServer server([](const ScriptedRequest&, std::size_t) {
    return ScriptedAnswer{503, {{"Retry-After", "0"}}, kSlowDown};
  });
  TestLoop loop;
  auto options = options_for(server);
  options.throttle_retries = 3;
  auto store = *stores::open_s3_store(loop.executor(), options);
  auto result = check(loop, store);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::RateLimited);
  CHECK(result.error().retryable);
  CHECK(server.requests().size() == 4);
  close_store(loop, store);
}

TEST_CASE("s3 throttle: a Retry-After beyond throttle_max_wait goes to the caller at once") {
  ScriptedHttpServer server([](const ScriptedRequest&, std::size_t) {
    return ScriptedAnswer{429, {{"Retry-After", "3600"}}, {}};
  });
  TestLoop loop;
  auto store = *stores::open_s3_store(loop.executor(), options_for(server));
  auto result = check(loop, store);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::RateLimited);
  CHECK(server.requests().size() == 1);
  close_store(loop, store);
}

TEST_CASE("s3 throttle: closing the store while a retry waits drops the request") {
  ScriptedHttpServer server([](const ScriptedRequest&, std::size_t) {
    return ScriptedAnswer{503, {{"Retry-After", "30"}}, kSlowDown};
  });
  TestLoop loop;
  auto store = *stores::open_s3_store(loop.executor(), options_for(server));
  std::optional<core::Result<void>> replied;
  stores::check_s3_store(store, [&](core::Result<void> result) { replied = result; });
  REQUIRE(loop.run_until([&] { return server.requests().size() == 1; }));
  close_store(loop, store);  // would hang for 30 s if the timer kept the loop alive
  // Not sent again; its caller hears of it as of a lost connection.
  REQUIRE(loop.run_until([&] { return replied.has_value(); }));
  REQUIRE_FALSE(replied->ok());
  CHECK(replied->error().code == Errc::Unavailable);
  CHECK(server.requests().size() == 1);
}
