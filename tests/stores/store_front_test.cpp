// The Store front's guarantees, checked through real backends: completions never run
// inline, exactly once; close() waits for operations; UvExecutor basics.

#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "harness.hpp"
#include "tetherd/stores/open_store.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Errc;

TEST_CASE_TEMPLATE("front: completions never run inline", F, TETHERD_STORE_FIXTURES) {
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

TEST_CASE("open_store: picks the backend by type and names unknown ones") {
  TestLoop loop;
  TempDir dir;
  auto local = stores::open_store(loop.executor(), {"local", "backup", dir.path().string(), true});
  REQUIRE(local.ok());
  CHECK((*local)->name() == "backup");
  CHECK((*local)->resolve(key("a/b")).native_path ==
        std::filesystem::canonical(dir.path()).string() + "/a/b");
  auto memory = stores::open_store(loop.executor(), {"memory", "", "", true});
  REQUIRE(memory.ok());
  CHECK((*memory)->resolve(key("a")).backend == "memory");
  auto unknown = stores::open_store(loop.executor(), {"ftp", "x", "", true});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message().find("known: local, memory") != std::string::npos);
  auto missing = stores::open_store(loop.executor(), {"local", "gone", "/nonexistent/dir", true});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == Errc::NotFound);
  CHECK(missing.error().message() ==
        "store 'gone': open '/nonexistent/dir': no such file or directory (ENOENT)");
}
