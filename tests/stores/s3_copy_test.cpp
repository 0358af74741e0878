// Server-side copies above copy_threshold: a multipart upload of UploadPartCopy parts.
// Against radosgw (with the threshold lowered to 8 MiB and 5 MiB parts): copy and move keep
// bytes and metadata, and a copy failing mid-way leaves no upload open. Against the scripted
// server (scripted_http_server.hpp), for the faults radosgw will not produce on demand: a
// part failing, and a cancel while a part is in flight, abort the upload.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>

#include "fixtures.hpp"
#include "harness.hpp"
#include "s3_store_impl.hpp"
#include "s3_uploads.hpp"
#include "s3_xml.hpp"
#include "scripted_http_server.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

namespace {

constexpr std::uint64_t kMiB = 1u << 20;

/// The radosgw store with copies above 8 MiB made of 5 MiB parts.
struct SmallCopyFixture {
  explicit SmallCopyFixture(core::Executor& executor) : cluster(RadosgwCluster::get()) {
    S3Fixture::require_started();
    prefix = cluster.fresh_prefix();
    auto options = cluster.options(prefix);
    options.copy_threshold = 8 * kMiB;
    options.copy_part_size = 5 * kMiB;
    auto opened = stores::open_s3_store(executor, options);
    if (!opened) throw std::runtime_error(opened.error().message());
    store = *opened;
  }
  RadosgwCluster& cluster;
  std::string prefix;
  core::StorePtr store;
};

core::WriteOptions with_metadata() {
  core::WriteOptions options;
  options.mtime = core::TimePoint(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  options.mode = 0640;
  return options;
}

/// Bytes, mtime and mode of `copy` match the file written with_metadata().
template <typename H>
void check_same_file(H& h, std::string_view copy, const std::string& data) {
  auto stat = h.stat(copy);
  REQUIRE(stat.ok());
  CHECK(stat->size == data.size());
  CHECK(stat->mtime == with_metadata().mtime);
  CHECK(stat->mode == with_metadata().mode);
  auto back = h.read(copy);
  REQUIRE(back.ok());
  CHECK(back->size() == data.size());
  CHECK(*back == data);
}

}  // namespace

TEST_CASE("s3 copy: parts are copy_part_size unless the source needs more than 10,000") {
  using stores::s3::part_size_for;
  CHECK(*part_size_for(12 * kMiB, 5 * kMiB) == 5 * kMiB);
  CHECK(*part_size_for(10000 * 5 * kMiB, 5 * kMiB) == 5 * kMiB);
  CHECK(*part_size_for(10000 * 5 * kMiB + 1, 5 * kMiB) == 6 * kMiB);
  // S3's largest object (5 TiB) in the default 512 MiB parts would take 10,240.
  const std::uint64_t largest = 5ull << 40;
  const auto part = *part_size_for(largest, 512 * kMiB);
  CHECK(part % kMiB == 0);
  CHECK((largest + part - 1) / part <= 10000);
  CHECK(part <= 5ull << 30);
}

TEST_CASE("s3: copy and move above copy_threshold go in parts and keep bytes and metadata") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<SmallCopyFixture> h;
  const std::string data = pattern(12 * kMiB, 21);
  REQUIRE(h.write("big.bin", data, with_metadata()).ok());
  REQUIRE(h.copy("big.bin", "copy.bin", false).ok());
  check_same_file(h, "copy.bin", data);
  check_same_file(h, "big.bin", data);
  // Three parts of 5, 5 and 2 MiB: the ETag of an object completed from three parts.
  CHECK(listed_etag(h.fixture.cluster, h.fixture.prefix + "/copy.bin").ends_with("-3&quot;"));
  // Overwriting an existing file, and a move (copy, then the source deleted).
  REQUIRE(h.write("other.bin", "small").ok());
  REQUIRE(h.copy("big.bin", "other.bin", true).ok());
  check_same_file(h, "other.bin", data);
  REQUIRE(h.move("copy.bin", "moved/big.bin", false).ok());
  check_same_file(h, "moved/big.bin", data);
  CHECK_FALSE(h.exists("copy.bin"));
  // A directory move takes its large objects the same way, small ones by CopyObject.
  REQUIRE(h.write("dir/small.txt", "small").ok());
  REQUIRE(h.copy("big.bin", "dir/sub/big.bin", false).ok());
  REQUIRE(h.move("dir", "dir2", false).ok());
  check_same_file(h, "dir2/sub/big.bin", data);
  CHECK(*h.read("dir2/small.txt") == "small");
  CHECK_FALSE(h.exists("dir"));
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
}

TEST_CASE("s3: a multipart copy failing mid-way is aborted: no upload, no object") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<SmallCopyFixture> h;
  const std::string data = pattern(12 * kMiB, 22);
  REQUIRE(h.write("big.bin", data).ok());
  auto s3 = std::dynamic_pointer_cast<stores::s3::S3Store>(h.store);
  REQUIRE(s3);
  auto copy = [&](stores::s3::ObjectHead source, const std::string& to) {
    return h.loop.await<void>([&](core::Callback<void> done) {
      s3->copy_parts(s3->object_key(key("big.bin")), s3->object_key(key(to)), source, nullptr,
                     done);
    });
  };
  // The copy is pinned to the ETag it started from: a source rewritten since (here: an ETag
  // it never had) fails it once the parts are copied (radosgw ignores the pin on the parts;
  // the store's look at the source before completing catches it).
  stores::s3::ObjectHead stale;
  stale.size = data.size();
  stale.etag = "\"0123456789abcdef0123456789abcdef\"";
  auto failed = copy(stale, "stale.bin");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::PreconditionFailed);
  CHECK(failed.error().retryable);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK_FALSE(h.exists("stale.bin"));
  // A source shorter than the copy believes: its first parts copy, the last one's range
  // lies beyond the object and fails.
  stores::s3::ObjectHead longer;
  longer.size = data.size() + 6 * kMiB;
  auto beyond = copy(longer, "beyond.bin");
  REQUIRE_FALSE(beyond.ok());
  CHECK(beyond.error().message().find("InvalidRange") != std::string::npos);
  CHECK(uploads_under(h.fixture.cluster, h.fixture.prefix).empty());
  CHECK_FALSE(h.exists("beyond.bin"));
}

namespace {

const std::string kEmptyListing =
    "<?xml version=\"1.0\"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>"
    "</ListBucketResult>";

/// Holds a scripted answer until the test lets it go.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  std::atomic<bool> reached{false};
  void wait() {
    reached = true;
    std::unique_lock lock(mutex);
    changed.wait(lock, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    changed.notify_all();
  }
};

/// A 12 MiB "big.bin" to copy to "copy.bin" in parts of 5 MiB; part 2's answer is `part2`.
ScriptedAnswer copy_script(const ScriptedRequest& request,
                           const std::function<ScriptedAnswer()>& part2) {
  const auto& target = request.target;
  const auto has = [&](std::string_view text) { return target.find(text) != std::string::npos; };
  if (request.method == "HEAD" && target == "/b/big.bin")
    // The server announces the body's length for a HEAD and sends none.
    return {200, {{"ETag", "\"e0\""}, {"x-amz-meta-mode", "640"}}, std::string(12 * kMiB, 'x')};
  if (request.method == "HEAD") return {404, {}, {}};
  if (request.method == "GET") return {200, {{"Content-Type", "application/xml"}}, kEmptyListing};
  if (request.method == "POST" && has("?uploads"))
    return {200,
            {},
            "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"
            "</InitiateMultipartUploadResult>"};
  if (request.method == "PUT" && has("partNumber=2")) return part2();
  if (request.method == "PUT")
    return {200, {}, "<CopyPartResult><ETag>&quot;p&quot;</ETag></CopyPartResult>"};
  if (request.method == "DELETE") return {204, {}, {}};
  return {200, {}, "<CompleteMultipartUploadResult></CompleteMultipartUploadResult>"};
}

stores::S3StoreOptions scripted_options(const ScriptedHttpServer& server) {
  stores::S3StoreOptions options;
  options.endpoint = server.endpoint();
  options.bucket = "b";
  options.access_key = "key";
  options.secret_key = "secret";
  options.abort_stale_uploads = false;
  options.max_concurrency = 1;  // the scripted server takes one connection at a time
  options.copy_threshold = 8 * kMiB;
  options.copy_part_size = 5 * kMiB;
  return options;
}

void close_store(TestLoop& loop, const core::StorePtr& store) {
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

std::size_t count(const std::vector<ScriptedRequest>& requests, std::string_view method,
                  std::string_view text) {
  return static_cast<std::size_t>(
      std::count_if(requests.begin(), requests.end(), [&](const ScriptedRequest& request) {
        return request.method == method && request.target.find(text) != std::string::npos;
      }));
}

}  // namespace

TEST_CASE("s3 copy: a part failing aborts the upload; no later part, no completion") {
  ScriptedHttpServer server([](const ScriptedRequest& request, std::size_t) {
    return copy_script(request, [] {
      return ScriptedAnswer{500, {}, "<Error><Code>InternalError</Code></Error>"};
    });
  });
  TestLoop loop;
  auto store = *stores::open_s3_store(loop.executor(), scripted_options(server));
  auto result = loop.await<void>(
      [&](core::Callback<void> done) { store->copy(key("big.bin"), key("copy.bin"), true, done); });
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == Errc::Unavailable);
  const auto requests = server.requests();
  CHECK(count(requests, "POST", "?uploads") == 1);
  CHECK(count(requests, "PUT", "partNumber=1&uploadId=U1") == 1);
  CHECK(count(requests, "PUT", "partNumber=3") == 0);
  CHECK(count(requests, "DELETE", "/b/copy.bin?uploadId=U1") == 1);
  CHECK(count(requests, "POST", "?uploadId=U1") == 0);
  close_store(loop, store);
}

TEST_CASE("s3 copy: a cancel while a part is in flight drops it and aborts the upload") {
  Gate gate;
  ScriptedHttpServer server([&gate](const ScriptedRequest& request, std::size_t) {
    return copy_script(request, [&gate] {
      gate.wait();  // answered once the test has cancelled; the store is gone by then
      return ScriptedAnswer{200, {}, "<CopyPartResult><ETag>&quot;p&quot;</ETag></CopyPartResult>"};
    });
  });
  struct Release {
    Gate& gate;
    ~Release() { gate.release(); }  // before the server joins its thread
  } release{gate};
  TestLoop loop;
  auto store = *stores::open_s3_store(loop.executor(), scripted_options(server));
  std::optional<core::Result<void>> result;
  auto handle = store->copy(key("big.bin"), key("copy.bin"), true,
                            [&](core::Result<void> r) { result.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return gate.reached.load(); }));
  handle.cancel();
  gate.release();
  REQUIRE(loop.run_until([&] { return result.has_value(); }));
  REQUIRE_FALSE(result->ok());
  CHECK(result->error().code == Errc::Cancelled);
  const auto requests = server.requests();
  CHECK(count(requests, "PUT", "partNumber=3") == 0);
  CHECK(count(requests, "DELETE", "/b/copy.bin?uploadId=U1") == 1);
  CHECK(count(requests, "POST", "?uploadId=U1") == 0);
  close_store(loop, store);
}
