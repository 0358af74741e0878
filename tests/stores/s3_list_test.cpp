// S3 listings against radosgw (s3_fixture.hpp): streamed page by page, in StoreKey order
// whatever S3's byte order says, the same listing the local store gives for the same tree;
// cancel mid-stream. The ordering logic alone: s3_list_order_test.cpp.

#include <doctest/doctest.h>

#include <tuple>

#include "fixtures.hpp"
#include "harness.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

namespace {

/// Names whose bytes below '/' (space ! - .) sort them around directories of the same stem,
/// at several depths, and more keys before a stem than the reorder buffer holds with small
/// pages ("x.N" before "x/", a directory; "y.N" with no "y/").
std::vector<std::string> tricky_files() {
  std::vector<std::string> files = {"a/b.c/d",  "a/b/c/e", "a/b/c.d", "a/b/c-d", "a/b/c d",
                                    "a/b/c!/f", "a/b!",    "a/b c",   "a/b-c",   "a/b.c.d",
                                    "a-b/c",    "a b",     "a.txt",   "a!",      "a.b/c/d",
                                    "b",        "x/y",     "x-/z",    "m-/n",    "m.o"};
  for (int i = 10; i < 22; ++i) {
    files.push_back("x." + std::to_string(i));
    files.push_back("y." + std::to_string(i));
    files.push_back("a/b/c." + std::to_string(i));
  }
  return files;
}
const std::vector<std::string> kTrickyDirs = {"a/e", "a/f-", "a/f", "m", "m.d", "a/b/c/g-"};

using Listed = std::vector<std::tuple<std::string, core::EntryType, std::uint64_t>>;

Listed listing(TestLoop& loop, const core::StorePtr& store, std::string_view dir, bool recursive,
               std::size_t batch) {
  auto stream = loop.await<core::EntryStreamPtr>([&](core::Callback<core::EntryStreamPtr> done) {
    store->list(key(dir), {recursive, batch}, done);
  });
  REQUIRE_MESSAGE(stream.ok(), (stream.ok() ? "" : stream.error().message()));
  Listed out;
  while (true) {
    auto entries = loop.await<std::vector<core::EntryInfo>>(
        [&](core::Callback<std::vector<core::EntryInfo>> done) { (*stream)->next(done); });
    REQUIRE_MESSAGE(entries.ok(), (entries.ok() ? "" : entries.error().message()));
    if (entries->empty()) return out;
    CHECK(entries->size() <= batch);
    for (const auto& entry : *entries)
      out.emplace_back(entry.key.str(), entry.type,
                       entry.type == core::EntryType::File ? entry.size : 0);
  }
}

core::StorePtr open_paged(TestLoop& loop, RadosgwCluster& cluster, const std::string& prefix,
                          int page) {
  auto options = cluster.options(prefix);
  options.list_page_size = page;
  options.abort_stale_uploads = false;
  auto opened = stores::open_s3_store(loop.executor(), options);
  REQUIRE(opened.ok());
  return *opened;
}

void close_store(TestLoop& loop, const core::StorePtr& store) {
  bool closed = false;
  store->close([&](core::Result<void>) { closed = true; });
  REQUIRE(loop.run_until([&] { return closed; }));
}

using Batch = std::vector<core::EntryInfo>;

core::Result<Batch> next_batch(TestLoop& loop, const core::EntryStreamPtr& stream) {
  return loop.await<Batch>([&](core::Callback<Batch> done) { stream->next(done); });
}

}  // namespace

TEST_CASE("s3: listings come in the local store's order, across pages and batch sizes") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> s3;
  Harness<LocalFixture> local;
  for (const auto& name : tricky_files()) {
    REQUIRE(s3.write(name, name).ok());
    REQUIRE(local.write(name, name).ok());
  }
  for (const auto& dir : kTrickyDirs) {
    REQUIRE(s3.mkdir(dir).ok());
    REQUIRE(local.mkdir(dir).ok());
  }
  // Pages of 2 and 3 keys: listings span many pages, and the reorder buffer (4 pages) fills
  // up before "x/" and "y/" (absent) come, so both kinds of probe run too. Batches of 1, 2
  // and many.
  const std::vector<std::pair<int, std::size_t>> runs = {{2, 1}, {2, 1000}, {3, 2}, {1000, 1}};
  for (const char* dir : {"", "a", "a/b", "x"}) {
    for (bool recursive : {true, false}) {
      const auto want = listing(local.loop, local.store, dir, recursive, 1000);
      for (const auto& run : runs) {
        // Named copies: CAPTURE takes a reference, which clang 14 refuses for bindings.
        const int page = run.first;
        const std::size_t batch = run.second;
        CAPTURE(page);
        CAPTURE(dir);
        CAPTURE(recursive);
        CAPTURE(batch);
        auto store = open_paged(s3.loop, s3.fixture.cluster, s3.fixture.prefix, page);
        CHECK(listing(s3.loop, store, dir, recursive, batch) == want);
        close_store(s3.loop, store);
      }
    }
  }
}

TEST_CASE("s3: a listing fetches its pages as the consumer asks for entries") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  for (auto name : {"d/f1", "d/f2", "d/f3", "d/f4", "d/f5", "d/f6"})
    REQUIRE(h.write(name, "x").ok());
  auto store = open_paged(h.loop, h.fixture.cluster, h.fixture.prefix, 2);
  auto stream = h.loop.await<core::EntryStreamPtr>([&](core::Callback<core::EntryStreamPtr> done) {
    store->list(key("d"), {false, 1}, done);
  });
  REQUIRE(stream.ok());
  auto first = next_batch(h.loop, *stream);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK(first->front().key.str() == "d/f1");
  // Written after the listing began, far beyond its first page: a stream that had read
  // every page up front would miss it.
  REQUIRE(h.write("d/f9", "x").ok());
  std::vector<std::string> rest;
  while (true) {
    auto batch = next_batch(h.loop, *stream);
    REQUIRE(batch.ok());
    if (batch->empty()) break;
    for (const auto& entry : *batch)
      rest.push_back(entry.key.str());
  }
  CHECK(rest == std::vector<std::string>{"d/f2", "d/f3", "d/f4", "d/f5", "d/f6", "d/f9"});
  close_store(h.loop, store);
}

TEST_CASE("s3: cancelling a listing mid-stream fails the pending and later batches") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  for (int i = 0; i < 9; ++i)
    REQUIRE(h.write("c/f" + std::to_string(i), "x").ok());
  auto store = open_paged(h.loop, h.fixture.cluster, h.fixture.prefix, 2);
  auto open = [&] {
    auto stream =
        h.loop.await<core::EntryStreamPtr>([&](core::Callback<core::EntryStreamPtr> done) {
          store->list(key("c"), {true, 1}, done);
        });
    REQUIRE(stream.ok());
    return *stream;
  };
  // Mid-stream: three entries taken, then a next() cancelled at once (its page or its
  // posted batch, whichever it was waiting for, must not arrive).
  auto stream = open();
  for (int i = 0; i < 3; ++i)
    REQUIRE(next_batch(h.loop, stream).ok());
  std::optional<core::Result<Batch>> pending;
  stream->next([&](core::Result<Batch> batch) { pending.emplace(std::move(batch)); });
  stream->cancel();
  REQUIRE(h.loop.run_until([&] { return pending.has_value(); }));
  REQUIRE_FALSE(pending->ok());
  CHECK(pending->error().code == Errc::Cancelled);
  auto later = next_batch(h.loop, stream);
  REQUIRE_FALSE(later.ok());
  CHECK(later.error().code == Errc::Cancelled);
  // Before the first page came: the request in flight is dropped.
  auto fresh = open();
  pending.reset();
  fresh->next([&](core::Result<Batch> batch) { pending.emplace(std::move(batch)); });
  fresh->cancel();
  REQUIRE(h.loop.run_until([&] { return pending.has_value(); }));
  REQUIRE_FALSE(pending->ok());
  CHECK(pending->error().code == Errc::Cancelled);
  // The store goes on working.
  CHECK(h.keys("c", false).size() == 9);
  close_store(h.loop, store);
}

TEST_CASE("s3: closing the store fails a listing's pending next() as a lost connection") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  for (int i = 0; i < 5; ++i)
    REQUIRE(h.write("c/f" + std::to_string(i), "x").ok());
  auto store = open_paged(h.loop, h.fixture.cluster, h.fixture.prefix, 2);
  auto stream = h.loop.await<core::EntryStreamPtr>([&](core::Callback<core::EntryStreamPtr> done) {
    store->list(key("c"), {true, 1}, done);
  });
  REQUIRE(stream.ok());
  // Its first page is on its way when the store closes: the stream outlives the store
  // (the contract), and its next() must still complete.
  std::optional<core::Result<Batch>> pending;
  (*stream)->next([&](core::Result<Batch> batch) { pending.emplace(std::move(batch)); });
  close_store(h.loop, store);
  REQUIRE(h.loop.run_until([&] { return pending.has_value(); }));
  REQUIRE_FALSE(pending->ok());
  CHECK(pending->error().code == Errc::Unavailable);
  CHECK(pending->error().retryable);
  auto later = next_batch(h.loop, *stream);
  REQUIRE_FALSE(later.ok());
  CHECK(later.error().code == Errc::Unavailable);
}

TEST_CASE("s3: a directory move and a recursive rmdir walk their keys page by page") {
  TETHERD_SKIP_IF_UNAVAILABLE(S3Fixture)
  Harness<S3Fixture> h;
  const std::vector<std::string> files = {"t/a",     "t/b/c", "t/b/d", "t/b-e",
                                          "t/f/g/h", "t/i.j", "t/k",   "kept"};
  for (const auto& name : files)
    REQUIRE(h.write(name, name).ok());
  REQUIRE(h.mkdir("t/empty").ok());
  // Pages of 2 keys: the walks go through five pages, each page's work overlapping the
  // listing of the next.
  auto store = open_paged(h.loop, h.fixture.cluster, h.fixture.prefix, 2);
  auto moved = h.loop.await<void>(
      [&](core::Callback<void> done) { store->move(key("t"), key("u"), false, done); });
  REQUIRE_MESSAGE(moved.ok(), (moved.ok() ? "" : moved.error().message()));
  CHECK(h.keys("u", true) == std::vector<std::string>{"u/a", "u/b", "u/b/c", "u/b/d", "u/b-e",
                                                      "u/empty", "u/f", "u/f/g", "u/f/g/h", "u/i.j",
                                                      "u/k"});
  CHECK(*h.read("u/f/g/h") == "t/f/g/h");
  CHECK_FALSE(h.exists("t"));
  auto removed =
      h.loop.await<void>([&](core::Callback<void> done) { store->rmdir(key("u"), true, done); });
  REQUIRE_MESSAGE(removed.ok(), (removed.ok() ? "" : removed.error().message()));
  CHECK_FALSE(h.exists("u"));
  CHECK(h.keys("", true) == std::vector<std::string>{"kept"});
  close_store(h.loop, store);
}
