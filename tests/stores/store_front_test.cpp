// The Store front's guarantees, checked through real backends: completions never run
// inline, exactly once; close() waits for operations; UvExecutor basics.

#include <doctest/doctest.h>

#include <fstream>

#include "fixtures.hpp"
#include "harness.hpp"
#include "tetherd/stores/fd_byte_source.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

TEST_CASE_TEMPLATE("front: completions never run inline", F, TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  bool returned = false;
  bool inline_call = false;
  int calls = 0;
  auto check = [&](auto) {
    ++calls;
    if (!returned) inline_call = true;
  };
  h.store->stat(key(""), check);           // backend path
  h.store->remove(key(""), false, check);  // refused by the front
  h.store->write(key("f"), h.source("x"), {}, check);
  returned = true;
  REQUIRE(h.loop.run_until([&] { return calls == 3; }));
  CHECK_FALSE(inline_call);
}

TEST_CASE_TEMPLATE("front: close waits for operations in flight", F, TETHERD_STORE_FIXTURES) {
  TETHERD_SKIP_IF_UNAVAILABLE(F)
  Harness<F> h;
  int finished = 0;
  for (int i = 0; i < 20; ++i) {
    h.store->write(key("f" + std::to_string(i)), h.source("data"), {}, [&](auto) { ++finished; });
  }
  bool closed = false;
  h.store->close([&](core::Result<void> r) {
    CHECK(r.ok());
    CHECK(finished == 20);  // every operation completed (done or cancelled) first
    closed = true;
  });
  REQUIRE(h.loop.run_until([&] { return closed; }));
  CHECK(h.store->closed());
}

TEST_CASE("executor: post order, blocking work, timers") {
  TestLoop loop;
  auto& executor = loop.executor();
  std::vector<int> order;
  executor.post([&] { order.push_back(1); });
  executor.post([&] {
    order.push_back(2);
    executor.post([&] { order.push_back(4); });
  });
  executor.post([&] { order.push_back(3); });
  bool worked = false, done = false;
  executor.run_blocking([&] { worked = true; }, [&] { done = worked; });
  bool fired = false, cancelled_fired = false;
  executor.start_timer(std::chrono::milliseconds(1), [&] { fired = true; });
  auto cancelled =
      executor.start_timer(std::chrono::milliseconds(1), [&] { cancelled_fired = true; });
  executor.cancel_timer(cancelled);
  REQUIRE(loop.run_until([&] { return order.size() == 4 && done && fired; }));
  CHECK(order == std::vector<int>{1, 2, 3, 4});
  CHECK_FALSE(cancelled_fired);
}

TEST_CASE("front: close twice, and children close alone") {
  TestLoop loop;
  auto memory = stores::open_memory_store(loop.executor());
  core::StorePtr store = memory;
  auto child = store->child(key("sub"));
  int child_closed = 0;
  child->close([&](core::Result<void> r) { child_closed += r.ok(); });
  REQUIRE(loop.run_until([&] { return child_closed == 1; }));
  CHECK(child->closed());
  CHECK_FALSE(store->closed());
  auto written = loop.await<core::EntryInfo>([&](core::Callback<core::EntryInfo> done) {
    store->write(key("sub/x"), core::MemoryByteSource::make(loop.executor(), core::to_bytes("x")),
                 {}, done);
  });
  CHECK(written.ok());
  int closed = 0;
  store->close([&](core::Result<void> r) { closed += r.ok(); });
  store->close([&](core::Result<void> r) { closed += r.ok(); });
  REQUIRE(loop.run_until([&] { return closed == 2; }));
  store->close([&](core::Result<void> r) { closed += r.ok(); });
  REQUIRE(loop.run_until([&] { return closed == 3; }));
}

TEST_CASE("FdByteSource: reads a local file, refuses directories") {
  TestLoop loop;
  TempDir dir{kTempPrefix};
  std::string data = pattern(300'000, 9);
  {
    std::ofstream out(dir.path() / "f.bin", std::ios::binary);
    out << data;
  }
  auto source = stores::FdByteSource::open(loop.executor(), (dir.path() / "f.bin").string());
  REQUIRE(source.ok());
  CHECK((*source)->size() == data.size());
  REQUIRE((*source)->file_region().has_value());
  std::string back;
  while (true) {
    auto chunk = loop.await<core::Bytes>(
        [&](core::Callback<core::Bytes> done) { (*source)->read(65536, done); });
    REQUIRE(chunk.ok());
    if (chunk->empty()) break;
    CHECK(chunk->size() <= 65536);
    back += core::bytes_to_string(*chunk);
  }
  CHECK(back == data);
  auto directory = stores::FdByteSource::open(loop.executor(), dir.path().string());
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == Errc::IsDirectory);
  auto missing = stores::FdByteSource::open(loop.executor(), (dir.path() / "nope").string());
  CHECK(missing.error().code == Errc::NotFound);
}
