// S3-specific behaviour of the S3 store, against the radosgw fixture (s3_fixture.hpp): what
// the conformance suite cannot see (credentials, multipart uploads left behind, a gateway
// that went away, S3's key rules and listing order).

#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "harness.hpp"
#include "s3_uploads.hpp"
#include "s3_xml.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

TEST_CASE("s3: a wrong secret is PermissionDenied (SignatureDoesNotMatch), not retryable") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  TestLoop loop;
  auto& cluster = RadosgwCluster::get();
  auto options = cluster.options(cluster.fresh_prefix());
  options.secret_key = "not-the-secret";
  auto store = *stores::open_s3_store(loop.executor(), options);
  // A stored object is durable once S3 answers: the store says so (events show it).
  CHECK(store->capabilities().has(core::Capability::Durable));
  auto result = loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
    store->write(key("x.txt"), core::MemoryByteSource::make(loop.executor(), core::to_bytes("x")),
                 {}, done);
  });
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::PermissionDenied);
  CHECK_FALSE(result.error().retryable);
  CHECK(result.error().native_name.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(result.error().message().find("not-the-secret") == std::string::npos);
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

TEST_CASE("s3: a 12 MiB file goes up in parts and round-trips; no upload stays open") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  const std::string data = pattern(12u << 20, 12);
  core::WriteOptions options;
  options.mode = 0644;
  auto written = h.write("big/file.bin", data, options);
  REQUIRE(written.ok());
  CHECK(written->size == data.size());
  auto head = h.fixture.cluster.call("HEAD", h.fixture.prefix + "/big/file.bin");
  CHECK(head.status == 200);
  auto back = h.read("big/file.bin");
  REQUIRE(back.ok());
  CHECK(back->size() == data.size());
  CHECK(*back == data);
  CHECK(*h.read("big/file.bin", {(5u << 20) - 3, 10}) == data.substr((5u << 20) - 3, 10));
  CHECK(h.stat("big/file.bin")->mode == std::optional<std::uint32_t>(0644));
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
}

TEST_CASE("s3: a cancelled multipart upload is aborted: no upload, no object") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  // 11 MiB, then the source stalls: two parts are up by then, the upload is open.
  auto source =
      std::make_shared<ScriptedSource>(h.loop.executor(), 11u << 20, ScriptedSource::End::Stall,
                                       core::StoreError::make(Errc::Protocol));
  std::optional<core::Result<core::EntryInfo>> result;
  auto handle =
      h.store->write(key("cancelled.bin"), source, {},
                     [&](core::Result<core::EntryInfo> r) { result.emplace(std::move(r)); });
  REQUIRE(h.loop.run_until([&] { return source->stalled(); }));
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).size() == 1);
  handle.cancel();
  REQUIRE(h.loop.run_until([&] { return result.has_value(); }));
  REQUIRE_FALSE(result->ok());
  CHECK(result->error().code == Errc::Cancelled);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK_FALSE(h.exists("cancelled.bin"));
  // A source failing mid-upload aborts it too.
  auto failing =
      std::make_shared<ScriptedSource>(h.loop.executor(), 11u << 20, ScriptedSource::End::Fail,
                                       core::StoreError::make(Errc::IoError));
  auto failed = h.loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
    h.store->write(key("failed.bin"), failing, {}, done);
  });
  CHECK(failed.error().code == Errc::IoError);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK_FALSE(h.exists("failed.bin"));
}

TEST_CASE("s3: keys must be UTF-8; listings come in StoreKey order, not S3's byte order") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  auto refused = h.write("latin1-\xe9", "x");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::InvalidPath);
  CHECK(refused.error().message().find("UTF-8") != std::string::npos);
  // S3 lists "a-b" < "a.c" < "a/x" (bytes of whole keys); StoreKey order puts "a" and
  // everything below it first.
  for (auto name : {"a-b", "a.c", "a/x", "a/y/z"})
    REQUIRE(h.write(name, name).ok());
  CHECK(h.keys("", true) == std::vector<std::string>{"a", "a/x", "a/y", "a/y/z", "a-b", "a.c"});
  CHECK(h.keys("", false) == std::vector<std::string>{"a", "a-b", "a.c"});
  auto where = h.store->resolve(key("a/x"));
  CHECK(where.native_path ==
        "s3://" + std::string(RadosgwCluster::kBucket) + "/" + h.fixture.prefix + "/a/x");
}

TEST_CASE("s3: a stopped gateway is a retryable Unavailable; back again, the store works") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  REQUIRE(h.write("before.txt", "x").ok());
  h.fixture.cluster.stop_gateway();
  auto stat = h.stat("before.txt");
  auto write = h.write("during.txt", "y");
  h.fixture.cluster.start_gateway();
  REQUIRE_FALSE(stat.ok());
  CHECK(stat.error().code == Errc::Unavailable);
  CHECK(stat.error().retryable);
  REQUIRE_FALSE(write.ok());
  CHECK(write.error().code == Errc::Unavailable);
  CHECK(write.error().retryable);
  REQUIRE_MESSAGE(h.fixture.cluster.up(), h.fixture.cluster.failure());
  CHECK(*h.read("before.txt") == "x");
  CHECK(h.write("after.txt", "z").ok());
}

TEST_CASE("s3: overwrite=false holds for multipart uploads too") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  REQUIRE(h.write("taken.bin", "first").ok());
  core::WriteOptions no_clobber;
  no_clobber.overwrite = false;
  auto refused = h.write("taken.bin", pattern(7u << 20, 7), no_clobber);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::AlreadyExists);
  CHECK(*h.read("taken.bin") == "first");
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK(h.write("fresh.bin", pattern(7u << 20, 7), no_clobber).ok());
}

namespace {

/// Starts a multipart upload at `key` (a full object key) with a raw signed request, as a
/// write cut off by a crash would have left it.
std::string initiate_upload(RadosgwCluster& cluster, const std::string& key) {
  auto response = cluster.call("POST", key, {{"uploads", ""}});
  REQUIRE(response.status == 200);
  auto id = stores::s3::parse_upload_id(response.body);
  REQUIRE(id.has_value());
  return *id;
}

void close_store(TestLoop& loop, const core::StorePtr& store) {
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

}  // namespace

TEST_CASE("s3: opening a store aborts the stale multipart uploads under its prefix") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  TestLoop loop;
  auto& cluster = RadosgwCluster::get();
  const std::string prefix = cluster.fresh_prefix();
  initiate_upload(cluster, prefix + "/left/behind.bin");
  REQUIRE(uploads_under(cluster, prefix).size() == 1);
  auto options = cluster.options(prefix);
  options.stale_upload_age = std::chrono::seconds(0);  // older than the store: stale
  auto store = *stores::open_s3_store(loop.executor(), options);
  // The sweep runs in the background, started by open.
  CHECK(loop.run_until([&] { return uploads_under(cluster, prefix).empty(); }));
  close_store(loop, store);
}

TEST_CASE("s3: the upload sweep spares young uploads and those outside the prefix") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  TestLoop loop;
  auto& cluster = RadosgwCluster::get();
  const std::string prefix = cluster.fresh_prefix();
  const std::string sibling = prefix + "-sibling";  // shares the text, not the directory
  initiate_upload(cluster, prefix + "/young.bin");
  const auto outside = initiate_upload(cluster, sibling + "/x.bin");
  auto sweep = [&](const core::StorePtr& store) {
    return loop.await<std::size_t>(
        [&](core::Callback<std::size_t> done) { stores::sweep_s3_uploads(store, done); });
  };
  auto options = cluster.options(prefix);
  options.abort_stale_uploads = false;
  {  // The default age: an upload of a moment ago is not stale.
    auto store = *stores::open_s3_store(loop.executor(), options);
    auto swept = sweep(store);
    REQUIRE(swept.ok());
    CHECK(*swept == 0);
    CHECK(uploads_under(cluster, prefix).size() == 1);
    close_store(loop, store);
  }
  options.stale_upload_age = std::chrono::seconds(0);
  auto store = *stores::open_s3_store(loop.executor(), options);
  auto swept = sweep(store);
  REQUIRE(swept.ok());
  CHECK(*swept == 1);
  CHECK(uploads_under(cluster, prefix).empty());
  CHECK(uploads_under(cluster, sibling).size() == 1);
  close_store(loop, store);
  cluster.call("DELETE", sibling + "/x.bin", {{"uploadId", outside}});
}

TEST_CASE("s3: a recursive rmdir of more than 1,000 keys (DeleteObjects batches) empties it") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  auto& cluster = h.fixture.cluster;
  // 1,234 keys: two DeleteObjects requests, one of them full. Made with raw PUTs (empty
  // objects), far quicker than as many store writes.
  const std::string tree = h.fixture.prefix + "/tree/";
  for (int i = 0; i < 1234; ++i) {
    auto put = cluster.call("PUT", tree + "d" + std::to_string(i % 7) + "/f" + std::to_string(i));
    REQUIRE(put.status == 200);
  }
  REQUIRE(cluster.call("PUT", h.fixture.prefix + "/kept.txt").status == 200);
  auto removed = h.rmdir("tree", true);
  CHECK_MESSAGE(removed.ok(), (removed.ok() ? "" : removed.error().message()));
  auto left = cluster.call("GET", "", {{"list-type", "2"}, {"prefix", tree}, {"max-keys", "10"}});
  REQUIRE(left.status == 200);
  auto page = stores::s3::parse_list_page(left.body);
  REQUIRE(page.has_value());
  CHECK(page->objects.empty());
  CHECK_FALSE(h.exists("tree"));
  CHECK(h.exists("kept.txt"));
}

TEST_CASE("s3: closing the store fails a source's pending read as a lost connection") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  TestLoop loop;
  auto& cluster = RadosgwCluster::get();
  auto options = cluster.options(cluster.fresh_prefix());
  options.abort_stale_uploads = false;
  auto store = *stores::open_s3_store(loop.executor(), options);
  // 9 MiB: the first ranged GET brings 8 MiB, the last MiB needs a request of its own.
  const std::string data = pattern(9u << 20, 9);
  REQUIRE(loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
                store->write(key("nine.bin"),
                             core::MemoryByteSource::make(loop.executor(), core::to_bytes(data)),
                             {}, done);
              })
              .ok());
  auto source = loop.await<core::ByteSourcePtr>(
      [&](core::Callback<core::ByteSourcePtr> done) { store->read(key("nine.bin"), {}, done); });
  REQUIRE(source.ok());
  std::size_t got = 0;
  while (got < (8u << 20)) {
    auto chunk = loop.await<core::Bytes>(
        [&](core::Callback<core::Bytes> done) { (*source)->read(1u << 20, done); });
    REQUIRE(chunk.ok());
    got += chunk->size();
  }
  // The next read's GET is on its way when the store closes: the source outlives the store
  // (the contract), and its read must still complete.
  std::optional<core::Result<core::Bytes>> pending;
  (*source)->read(1u << 20, [&](core::Result<core::Bytes> chunk) { pending = std::move(chunk); });
  close_store(loop, store);
  REQUIRE(loop.run_until([&] { return pending.has_value(); }));
  REQUIRE_FALSE(pending->ok());
  CHECK(pending->error().code == Errc::Unavailable);
}
