#include "tetherd/core/build_info.hpp"

#include <doctest/doctest.h>

TEST_CASE("build_info names version, compiler and build type") {
  const auto& info = tetherd::core::build_info();
  CHECK(info.version.find('.') != std::string::npos);
  CHECK_FALSE(info.compiler.empty());
  CHECK_FALSE(info.build_type.empty());
}
