// open_configured_store: the daemon's way from a store of the config to an open backend,
// never blocking the loop thread and never answering inline.

#include "store_opener.hpp"

#include <doctest/doctest.h>

#include <optional>

#include "stores/test_loop.hpp"
#include "support/temp_dir.hpp"

namespace tetherd::daemon {
namespace {

config::StoreConfig local_store(const std::string& name, const std::filesystem::path& root) {
  config::StoreConfig store;
  store.name = name;
  store.backend = config::LocalStoreConfig{root};
  return store;
}

std::optional<core::Result<core::StorePtr>> open_and_wait(test::TestLoop& loop,
                                                          const config::StoreConfig& wanted,
                                                          bool* inline_answer) {
  std::optional<core::Result<core::StorePtr>> answer;
  open_configured_store(loop.executor(), wanted,
                        [&answer](core::Result<core::StorePtr> store) { answer.emplace(store); });
  *inline_answer = answer.has_value();
  loop.run_until([&] { return answer.has_value(); });
  return answer;
}

TEST_CASE("store opener: a local store opens off the loop thread, answering later") {
  test::TestLoop loop;
  test_support::TempDir dir("store-opener");
  bool inline_answer = true;
  auto answer = open_and_wait(loop, local_store("backup", dir.path()), &inline_answer);
  CHECK_FALSE(inline_answer);
  REQUIRE(answer.has_value());
  REQUIRE(answer->ok());
  const core::StorePtr& store = **answer;
  CHECK(store->name() == "backup");
  CHECK(store->resolve(core::StoreKey::root()).backend == "local");
  bool closed = false;
  store->close([&closed](core::Result<void>) { closed = true; });
  loop.run_until([&] { return closed; });
}

TEST_CASE("store opener: a missing local root is an error that names the store") {
  test::TestLoop loop;
  test_support::TempDir dir("store-opener");
  bool inline_answer = true;
  auto answer = open_and_wait(loop, local_store("backup", dir.path() / "gone"), &inline_answer);
  CHECK_FALSE(inline_answer);
  REQUIRE(answer.has_value());
  REQUIRE_FALSE(answer->ok());
  CHECK(answer->error().code == core::Errc::NotFound);
  CHECK(answer->error().store == "backup");
  CHECK(answer->error().operation == core::Operation::Open);
}

}  // namespace
}  // namespace tetherd::daemon
