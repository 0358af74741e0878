#include "tetherd/core/result.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>

using namespace tetherd::core;

namespace {
Result<int> parse_positive(int value) {
  if (value <= 0) return StoreError::make(Errc::InvalidPath, "not positive");
  return value;
}
Result<void> check(bool good) {
  if (!good) return StoreError::make(Errc::PreconditionFailed);
  return success();
}
}  // namespace

TEST_CASE("Result holds a value or an error") {
  auto good = parse_positive(3);
  REQUIRE(good.ok());
  CHECK(*good == 3);
  CHECK(good.value_or(7) == 3);
  auto bad = parse_positive(-1);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::InvalidPath);
  CHECK(bad.value_or(7) == 7);
}

TEST_CASE("Result<void>") {
  CHECK(check(true).ok());
  auto failed = check(false);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == Errc::PreconditionFailed);
}

TEST_CASE("Result moves move-only values and custom error types") {
  Result<std::unique_ptr<int>> owned(std::make_unique<int>(5));
  auto pointer = std::move(owned).value();
  CHECK(*pointer == 5);
  Result<std::string, int> custom(42);
  CHECK_FALSE(custom.ok());
  CHECK(custom.error() == 42);
  Result<std::string, int> failed = fail(9);
  CHECK_FALSE(failed.ok());
  CHECK(failed.error() == 9);
}
