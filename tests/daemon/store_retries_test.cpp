// StoreRetries: a store that could not be opened is tried again after growing pauses, one
// attempt at a time, until it answers or nobody waits for it.

#include "store_retries.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "stores/test_loop.hpp"
#include "support/temp_dir.hpp"
#include "tetherd/stores/memory_store.hpp"

namespace tetherd::daemon {
namespace {

using namespace std::chrono_literals;

config::StoreConfig remote(const std::string& name) {
  config::StoreConfig store;
  store.name = name;
  store.backend = config::SftpStoreConfig{};
  return store;
}

/// Opens that fail (Unavailable) until `succeed_after` attempts were made.
struct FlakyServer {
  test::TestLoop& loop;
  int succeed_after = 1000;
  int attempts = 0;
  void open(const config::StoreConfig& wanted, core::Callback<core::StorePtr> done) {
    ++attempts;
    if (attempts < succeed_after) {
      loop.executor().post([done, name = wanted.name] {
        done(core::StoreError::make(core::Errc::Unavailable, "connection refused by " + name));
      });
      return;
    }
    loop.executor().post(
        [this, done] { done(core::StorePtr(stores::open_memory_store(loop.executor(), {}))); });
  }
};

TEST_CASE("store retries: pauses double up to the longest, one attempt at a time") {
  test::TestLoop loop;
  FlakyServer server{loop, 4};
  std::vector<bool> answers;
  std::vector<std::chrono::milliseconds> pauses;
  StoreRetries retries(
      loop.executor(),
      [&](const config::StoreConfig& wanted, core::Callback<core::StorePtr> done) {
        server.open(wanted, std::move(done));
      },
      [&](const std::string& key, core::Result<core::StorePtr> store) {
        CHECK(key == "k");
        answers.push_back(store.ok());
        if (!store) pauses.push_back(retries.retry(key, remote("s")));
      },
      StoreRetries::Pauses{10ms, 40ms});
  CHECK(retries.retry("k", remote("s")) == 10ms);
  // Asked again while an attempt is scheduled: nothing changes.
  CHECK(retries.retry("k", remote("s")) == 10ms);
  CHECK(server.attempts == 0);
  REQUIRE(loop.run_until([&] { return answers.size() == 4; }, 30s));
  CHECK(answers == std::vector<bool>{false, false, false, true});
  CHECK(pauses == std::vector<std::chrono::milliseconds>{20ms, 40ms, 40ms});
  CHECK(server.attempts == 4);
  CHECK_FALSE(retries.contains("k"));  // answered: forgotten
}

TEST_CASE("store retries: a forgotten store's late answer is closed, not handed over") {
  test::TestLoop loop;
  bool answered = false;
  core::Callback<core::StorePtr> held;
  StoreRetries retries(
      loop.executor(),
      [&](const config::StoreConfig&, core::Callback<core::StorePtr> done) {
        held = std::move(done);
      },
      [&](const std::string&, core::Result<core::StorePtr>) { answered = true; },
      StoreRetries::Pauses{10ms, 40ms});
  retries.retry("k", remote("s"));
  REQUIRE(loop.run_until([&] { return held != nullptr; }, 30s));
  retries.forget("k");
  held(core::StorePtr(stores::open_memory_store(loop.executor(), {})));
  CHECK_FALSE(answered);
  CHECK_FALSE(retries.contains("k"));
}

TEST_CASE("store retries: clear() cancels the attempts scheduled") {
  test::TestLoop loop;
  std::vector<core::Callback<core::StorePtr>> held;
  StoreRetries retries(
      loop.executor(),
      [&](const config::StoreConfig&, core::Callback<core::StorePtr> done) {
        held.push_back(std::move(done));
      },
      [&](const std::string&, core::Result<core::StorePtr>) {});
  CHECK(retries.retry("k", remote("s")) == 1s);  // the default first pause
  retries.clear();
  CHECK_FALSE(retries.contains("k"));
  // The loop ends at once: no timer is left to keep it alive.
  uv_run(loop.loop(), UV_RUN_DEFAULT);
  CHECK(held.empty());
}

}  // namespace
}  // namespace tetherd::daemon
