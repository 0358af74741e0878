// memory_store specifics: fault injection (conformance point 15) and narrowed
// capabilities (point 14, every gate).

#include <doctest/doctest.h>

#include "fixtures.hpp"
#include "harness.hpp"

using namespace tetherd;
using namespace tetherd::test;
using core::Capability;
using core::Errc;
using core::Operation;
using stores::Fault;

TEST_CASE("memory: injected transient faults are reported retryable (conformance 15)") {
  Harness<MemoryFixture> h;
  auto& memory = *h.fixture.memory;
  REQUIRE(h.write("a", "1").ok());

  Fault unavailable;
  unavailable.operation = Operation::Write;
  unavailable.error = core::StoreError::make(Errc::Unavailable, "503 Service Unavailable");
  memory.inject(unavailable);
  auto failed = h.write("a", "2");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::Unavailable);
  CHECK(failed.error().retryable);
  CHECK(failed.error().message() == "store 'memory': write 'a': 503 Service Unavailable");
  CHECK(*h.read("a") == "1");
  CHECK(h.write("a", "3").ok());  // times = 1: the next one passes

  Fault timeout;
  timeout.error = core::StoreError::make(Errc::Timeout);
  memory.inject(timeout);
  auto timed_out = h.stat("a");
  CHECK(timed_out.error().code == Errc::Timeout);
  CHECK(timed_out.error().retryable);

  Fault reset;
  reset.operation = Operation::Read;
  reset.error = core::StoreError::make(Errc::Protocol, "connection reset by peer");
  reset.error.retryable = true;  // a transient network error
  memory.inject(reset);
  auto dropped = h.read("a");
  CHECK(dropped.error().code == Errc::Protocol);
  CHECK(dropped.error().retryable);

  Fault full;
  full.error = core::StoreError::make(Errc::NoSpace);
  memory.inject(full);
  CHECK_FALSE(h.write("b", "x").error().retryable);
}

TEST_CASE("memory: fail the Nth matching operation under a prefix") {
  Harness<MemoryFixture> h;
  auto& memory = *h.fixture.memory;
  Fault third;
  third.operation = Operation::Write;
  third.under = key("photos");
  third.skip = 2;
  third.times = 2;
  third.error = core::StoreError::make(Errc::RateLimited);
  memory.inject(third);
  CHECK(h.write("other/x", "x").ok());  // does not match
  CHECK(h.write("photos/1", "x").ok());
  CHECK(h.write("photos/2", "x").ok());
  CHECK(h.write("photos/3", "x").error().code == Errc::RateLimited);
  CHECK(h.write("photos/4", "x").error().code == Errc::RateLimited);
  CHECK(h.write("photos/5", "x").ok());
  CHECK(h.keys("photos") == std::vector<std::string>{"photos/1", "photos/2", "photos/5"});
}

TEST_CASE("memory: latency delays, hang holds until cancelled or lifted") {
  Harness<MemoryFixture> h;
  auto& memory = *h.fixture.memory;
  REQUIRE(h.write("a", "1").ok());

  Fault slow;  // a short delay: the operation still completes normally
  slow.kind = Fault::Kind::Delay;
  slow.delay = std::chrono::milliseconds(1);
  slow.operation = Operation::Stat;
  memory.inject(slow);
  CHECK(h.stat("a").ok());

  Fault long_delay;  // long enough that it cannot pass during this test
  long_delay.kind = Fault::Kind::Delay;
  long_delay.delay = std::chrono::minutes(10);
  long_delay.operation = Operation::Stat;
  memory.inject(long_delay);
  std::optional<core::Result<core::EntryInfo>> delayed;
  auto handle = h.store->stat(key("a"), [&](auto r) { delayed.emplace(std::move(r)); });
  CHECK(h.read("a").ok());  // other operations proceed meanwhile
  CHECK(handle.pending());
  CHECK_FALSE(delayed.has_value());
  handle.cancel();
  REQUIRE(h.loop.run_until([&] { return delayed.has_value(); }));
  CHECK(delayed->error().code == Errc::Cancelled);

  Fault hang;
  hang.kind = Fault::Kind::Hang;
  hang.times = std::nullopt;
  hang.operation = Operation::Remove;
  auto hang_id = memory.inject(hang);
  std::optional<core::Result<void>> first, second;
  auto first_handle = h.store->remove(key("a"), false, [&](auto r) { first.emplace(r); });
  h.store->remove(key("missing"), true, [&](auto r) { second.emplace(r); });
  REQUIRE(h.loop.run_until([&] { return memory.hung_operations() == 2; }));
  first_handle.cancel();
  REQUIRE(h.loop.run_until([&] { return first.has_value(); }));
  CHECK(first->error().code == Errc::Cancelled);
  CHECK(memory.hung_operations() == 1);
  CHECK(h.exists("a"));  // the cancelled remove did nothing
  CHECK_FALSE(second.has_value());
  memory.clear_fault(hang_id);
  REQUIRE(h.loop.run_until([&] { return second.has_value(); }));
  CHECK(second->ok());
  CHECK(h.remove("a").ok());  // no fault any more
}

TEST_CASE("memory: close cancels hung operations and refuses new ones") {
  TestLoop loop;
  auto memory = stores::open_memory_store(loop.executor());
  Fault hang;
  hang.kind = Fault::Kind::Hang;
  memory->inject(hang);
  std::optional<core::Result<core::EntryInfo>> hung;
  memory->stat(key(""), [&](auto r) { hung.emplace(std::move(r)); });
  bool closed = false;
  memory->close([&](core::Result<void> r) { closed = r.ok(); });
  REQUIRE(loop.run_until([&] { return closed; }));
  REQUIRE(hung.has_value());
  CHECK(hung->error().code == Errc::Cancelled);
  std::optional<core::Result<core::EntryInfo>> late;
  memory->stat(key(""), [&](auto r) { late.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return late.has_value(); }));
  CHECK(late->error().code == Errc::Unavailable);
  CHECK(late->error().message().find("closed") != std::string::npos);
}

TEST_CASE(
    "memory: every undeclared gate fails with CapabilityNotSupported, no I/O (conformance 14)") {
  TestLoop loop;
  auto memory = stores::open_memory_store(loop.executor(), {"narrow", core::CapabilitySet{}});
  auto store = core::StorePtr(memory);
  std::vector<core::StoreError> errors;
  auto keep = [&](auto result) {
    if (!result) errors.push_back(result.error());
  };
  auto k = key("x");
  store->stat(k, keep);
  store->list(k, {}, keep);
  store->read(k, {}, keep);
  store->write(k, core::MemoryByteSource::make(loop.executor(), {}), {}, keep);
  store->write(k, core::MemoryByteSource::make(loop.executor(), {}), {true, false, {}, {}, {}},
               keep);
  store->copy(k, key("y"), false, keep);
  store->move(k, key("y"), false, keep);
  store->remove(k, false, keep);
  store->mkdir(k, keep);
  store->rmdir(k, false, keep);
  store->set_attrs(k, {core::TimePoint{}, std::nullopt}, keep);
  store->set_attrs(k, {std::nullopt, 0644}, keep);
  store->symlink(k, "t", keep);
  store->readlink(k, keep);
  REQUIRE(loop.run_until([&] { return errors.size() == 14; }));
  for (const auto& error : errors) {
    CAPTURE(error.message());
    CHECK(error.code == Errc::CapabilityNotSupported);
    CHECK(error.store == "narrow");
  }
  CHECK(errors[3].message() == "store 'narrow': write 'x': this store does not support WRITE");
  CHECK(memory->backend_calls() == 0);

  // Partially narrowed: atomic writes refused, plain writes allowed.
  auto partial = stores::open_memory_store(
      loop.executor(), {"partial", core::CapabilitySet{Capability::Write, Capability::Metadata}});
  std::optional<core::Result<core::EntryInfo>> atomic, plain;
  partial->write(k, core::MemoryByteSource::make(loop.executor(), core::to_bytes("a")), {},
                 [&](auto r) { atomic.emplace(std::move(r)); });
  partial->write(k, core::MemoryByteSource::make(loop.executor(), core::to_bytes("a")),
                 {true, false, {}, {}, {}}, [&](auto r) { plain.emplace(std::move(r)); });
  REQUIRE(loop.run_until([&] { return atomic && plain; }));
  CHECK(atomic->error().code == Errc::CapabilityNotSupported);
  CHECK(atomic->error().detail.find("ATOMIC_WRITE") != std::string::npos);
  CHECK(plain->ok());
}

namespace {

/// A memory store that plays a target keeping whole seconds (as SFTP v3 does).
struct WholeSecondMemoryFixture {
  explicit WholeSecondMemoryFixture(core::Executor& executor) {
    core::CapabilitySet capabilities = stores::full_memory_capabilities();
    capabilities.mtime_precision = std::chrono::seconds(1);
    store = stores::open_memory_store(executor, {"seconds", capabilities});
  }
  core::StorePtr store;
};

}  // namespace

TEST_CASE("memory: a declared mtime precision is kept: mtimes are cut to it") {
  Harness<WholeSecondMemoryFixture> h;
  const core::TimePoint exact{std::chrono::nanoseconds(1'700'000'123'456'789'012)};
  const core::TimePoint whole{std::chrono::seconds(1'700'000'123)};
  core::WriteOptions options;
  options.mtime = exact;
  REQUIRE(h.write("a", "1", options).ok());
  CHECK(h.stat("a")->mtime == whole);
  REQUIRE(h.set_attrs("a", {exact + std::chrono::seconds(1), std::nullopt}).ok());
  CHECK(h.stat("a")->mtime == whole + std::chrono::seconds(1));
}

TEST_CASE("memory: a directory's mtime moves when an entry is added, removed or renamed there") {
  // As on a POSIX file system: the engine's listing cache trusts a directory whose mtime
  // has not moved to still hold the names it recorded.
  Harness<MemoryFixture> h;
  REQUIRE(h.mkdir("d").ok());
  REQUIRE(h.mkdir("e").ok());
  const core::TimePoint old_time{std::chrono::seconds(1'000'000'000)};
  auto changes = [&](auto&& change) {
    REQUIRE(h.set_attrs("d", {old_time, std::nullopt}).ok());
    REQUIRE(h.set_attrs("e", {old_time, std::nullopt}).ok());
    change();
    return std::make_pair(h.stat("d")->mtime != old_time, h.stat("e")->mtime != old_time);
  };
  CHECK(changes([&] { REQUIRE(h.write("d/f", "1").ok()); }) == std::make_pair(true, false));
  CHECK(changes([&] { REQUIRE(h.move("d/f", "e/f", false).ok()); }) == std::make_pair(true, true));
  CHECK(changes([&] { REQUIRE(h.remove("e/f").ok()); }) == std::make_pair(false, true));
  CHECK(changes([&] { REQUIRE(h.mkdir("d/sub").ok()); }) == std::make_pair(true, false));
  CHECK(changes([&] { REQUIRE(h.rmdir("d/sub", false).ok()); }) == std::make_pair(true, false));
  // Attributes of an entry are not its directory's names.
  REQUIRE(h.write("d/g", "1").ok());
  CHECK(changes([&] {
          REQUIRE(h.set_attrs("d/g", {std::nullopt, 0600}).ok());
        }) == std::make_pair(false, false));
}
