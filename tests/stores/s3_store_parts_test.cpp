// How the S3 store cuts a multipart upload into parts: the part sizes (no server), and
// against the radosgw fixture (threshold 6 MiB, parts of 5 MiB) the parts going up in
// parallel, and failures and cancels leaving no upload behind.

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

#include "fixtures.hpp"
#include "harness.hpp"
#include "s3_store_impl.hpp"
#include "s3_uploads.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;

/// How many parts radosgw says `key` (under the fixture's prefix) was uploaded in: its
/// listed ETag ends with "-<number of parts>" (and a quote, maybe escaped).
std::string parts_of(Harness<S3Fixture>& h, const std::string& key) {
  const std::string etag = listed_etag(h.fixture.cluster, h.fixture.prefix + "/" + key);
  const auto dash = etag.rfind('-');
  REQUIRE(dash != std::string::npos);
  const auto end = etag.find_first_not_of("0123456789", dash + 1);
  return etag.substr(dash + 1, end - dash - 1);
}

stores::s3::S3Store::PartsInFlight& parts_in_flight(Harness<S3Fixture>& h) {
  return std::static_pointer_cast<stores::s3::S3Store>(h.store)->parts_in_flight();
}

/// Writes `source` to `name`.
core::Result<core::EntryInfo> write_source(Harness<S3Fixture>& h, const std::string& name,
                                           const core::ByteSourcePtr& source) {
  return h.loop.await<core::EntryInfo>(
      [&](core::Callback<core::EntryInfo> done) { h.store->write(key(name), source, {}, done); });
}

}  // namespace

TEST_CASE("s3 upload: part sizes are part_size unless 10,000 parts would not hold the object") {
  using stores::s3::part_size_for;
  using stores::s3::streamed_part_size;
  // A known size: part_size while 10,000 parts hold it, else the least whole MiB that does.
  CHECK(*part_size_for(37 * kMiB, 8 * kMiB) == 8 * kMiB);
  CHECK(*part_size_for(10000 * 8 * kMiB, 8 * kMiB) == 8 * kMiB);
  const std::uint64_t hundred_gib = 100ull << 30;
  const auto grown = *part_size_for(hundred_gib, 8 * kMiB);
  CHECK(grown == 11 * kMiB);
  CHECK((hundred_gib + grown - 1) / grown <= 10000);
  CHECK((hundred_gib + grown - kMiB - 1) / (grown - kMiB) > 10000);
  const std::uint64_t largest = 5ull << 40;
  const auto most = *part_size_for(largest, 8 * kMiB);
  CHECK(most % kMiB == 0);
  CHECK((largest + most - 1) / most <= 10000);
  auto too_large = part_size_for(largest + 1, 8 * kMiB);
  REQUIRE_FALSE(too_large.ok());
  CHECK(too_large.error().code == Errc::NoSpace);
  CHECK_FALSE(too_large.error().retryable);
  // An unknown size: doubled every 1,000 parts, at most 5 GiB.
  CHECK(streamed_part_size(1, 8 * kMiB) == 8 * kMiB);
  CHECK(streamed_part_size(1000, 8 * kMiB) == 8 * kMiB);
  CHECK(streamed_part_size(1001, 8 * kMiB) == 16 * kMiB);
  CHECK(streamed_part_size(10000, 8 * kMiB) == 4096 * kMiB);
  CHECK(streamed_part_size(10000, 1024 * kMiB) == 5ull << 30);
  std::uint64_t held = 0;
  for (std::size_t number = 1; number <= 10000; ++number)
    held += streamed_part_size(number, 8 * kMiB);
  CHECK(held >= largest);
}

TEST_CASE("s3: a file of 7 parts and a remainder goes up in parallel parts and reads back") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  const std::string data = pattern(7 * 5 * kMiB + 123457, 8);
  auto written = h.write("eight-parts.bin", data);
  REQUIRE(written.ok());
  CHECK(written->size == data.size());
  CHECK(parts_of(h, "eight-parts.bin") == "8");
  CHECK(*h.read("eight-parts.bin") == data);
  // Parts were in flight together, never more than four (the fixture allows 8 connections).
  CHECK(parts_in_flight(h).peak >= 2);
  CHECK(parts_in_flight(h).peak <= 4);
  CHECK(parts_in_flight(h).now == 0);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
}

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

TEST_CASE("s3: a file of unknown size goes up in parallel parts, none of them empty") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  // Buffered up to the threshold (it might fit one PUT), then cut into parts.
  auto source =
      std::make_shared<ScriptedSource>(h.loop.executor(), 23 * kMiB, ScriptedSource::End::Finish);
  auto written = write_source(h, "streamed.bin", source);
  REQUIRE(written.ok());
  CHECK(written->size == 23 * kMiB);
  CHECK(parts_of(h, "streamed.bin") == "5");
  CHECK(*h.read("streamed.bin") == std::string(23 * kMiB, 'x'));
  CHECK(parts_in_flight(h).peak >= 2);
  // A whole number of parts: no empty fifth one.
  auto whole =
      std::make_shared<ScriptedSource>(h.loop.executor(), 20 * kMiB, ScriptedSource::End::Finish);
  REQUIRE(write_source(h, "whole.bin", whole).ok());
  CHECK(parts_of(h, "whole.bin") == "4");
  CHECK(h.stat("whole.bin")->size == 20 * kMiB);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
}

TEST_CASE("s3: a source failing during a parallel upload leaves no upload and no object") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  auto fails_after = [&](std::size_t good, std::optional<std::uint64_t> declared) {
    auto source =
        std::make_shared<ScriptedSource>(h.loop.executor(), good, ScriptedSource::End::Fail);
    if (declared) source->declare_size(*declared);
    return source;
  };
  SUBCASE("size unknown, after 4 parts and a half") {
    auto failed = write_source(h, "failed.bin", fails_after(22 * kMiB + 1, std::nullopt));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == Errc::IoError);
  }
  SUBCASE("size known, after 4 parts and a half") {
    auto failed = write_source(h, "failed.bin", fails_after(22 * kMiB + 1, 40 * kMiB));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == Errc::IoError);
  }
  SUBCASE("size known, at once: while the upload is being created") {
    auto failed = write_source(h, "failed.bin", fails_after(0, 40 * kMiB));
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == Errc::IoError);
  }
  CHECK(parts_in_flight(h).now == 0);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK_FALSE(h.exists("failed.bin"));
}

TEST_CASE("s3: a write cancelled with parts in flight is aborted: no upload, no object") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  // Six parts' worth, then the source stalls: the write cannot end by itself.
  auto source =
      std::make_shared<ScriptedSource>(h.loop.executor(), 30 * kMiB, ScriptedSource::End::Stall);
  source->declare_size(40 * kMiB);
  std::optional<core::Result<core::EntryInfo>> result;
  auto handle =
      h.store->write(key("cancelled.bin"), source, {},
                     [&](core::Result<core::EntryInfo> r) { result.emplace(std::move(r)); });
  auto& counts = parts_in_flight(h);
  REQUIRE(h.loop.run_until([&] { return counts.now >= 2 || source->stalled(); }));
  handle.cancel();
  REQUIRE(h.loop.run_until([&] { return result.has_value(); }));
  REQUIRE_FALSE(result->ok());
  CHECK(result->error().code == Errc::Cancelled);
  CHECK(counts.peak >= 2);
  CHECK(counts.now == 0);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK_FALSE(h.exists("cancelled.bin"));
}
