#include "tetherd/core/store_key.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using tetherd::core::Errc;
using tetherd::core::StoreKey;

namespace {
std::string normalized(std::string_view text) {
  auto key = StoreKey::parse(text);
  REQUIRE(key.ok());
  return key->str();
}
Errc failure(std::string_view text) {
  auto key = StoreKey::parse(text);
  REQUIRE_FALSE(key.ok());
  return key.error().code;
}
}  // namespace

TEST_CASE("StoreKey normalizes slashes and dot segments") {
  CHECK(normalized("a/b/c") == "a/b/c");
  CHECK(normalized("/a//b/") == "a/b");
  CHECK(normalized("./a/./b/.") == "a/b");
  CHECK(normalized("") == "");
  CHECK(normalized("/") == "");
  CHECK(normalized("././/") == "");
  CHECK(normalized("a\\b") == "a\\b");  // backslash is a legal byte
  CHECK(normalized("...") == "...");
  CHECK(normalized("..a/b..") == "..a/b..");
}

TEST_CASE("StoreKey rejects NUL, dot-dot and overlong segments") {
  CHECK(failure(std::string("a\0b", 3)) == Errc::InvalidPath);
  CHECK(failure("..") == Errc::InvalidPath);
  CHECK(failure("a/../b") == Errc::InvalidPath);
  CHECK(failure("/../etc/passwd") == Errc::InvalidPath);
  CHECK(failure("a/..") == Errc::InvalidPath);
  CHECK(failure(std::string(256, 'x')) == Errc::InvalidPath);
  CHECK(normalized(std::string(255, 'x')) == std::string(255, 'x'));
  auto error = StoreKey::parse("a/../b").error();
  CHECK(error.message().find("'..'") != std::string::npos);
}

TEST_CASE("StoreKey keeps bytes exactly, including non-UTF-8") {
  std::string raw = "caf\xc3\xa9/\xff\xfe name+%";
  CHECK(normalized(raw) == raw);
  CHECK(tetherd::core::printable("a\xff") == "a\\xff");
}

TEST_CASE("StoreKey root handling") {
  CHECK(StoreKey::root().is_root());
  CHECK(StoreKey::parse_file("").error().code == Errc::InvalidPath);
  CHECK(StoreKey::parse_file("//.").error().code == Errc::InvalidPath);
  CHECK(StoreKey::parse_file("a").ok());
}

TEST_CASE("StoreKey parent, name, segments, join") {
  auto key = StoreKey::parse("a/b/c.txt").value();
  CHECK(key.name() == "c.txt");
  CHECK(key.parent().str() == "a/b");
  CHECK(key.parent().parent().parent().is_root());
  CHECK(StoreKey::root().parent().is_root());
  CHECK(key.depth() == 3);
  CHECK(key.segments() == std::vector<std::string_view>{"a", "b", "c.txt"});
  CHECK(StoreKey::root().segments().empty());
  CHECK(key.parent().join("d").value().str() == "a/b/d");
  CHECK(StoreKey::root().join("x/y").value().str() == "x/y");
  CHECK(key.join("..").error().code == Errc::InvalidPath);
  CHECK(key.join(StoreKey::root()) == key);
}

TEST_CASE("StoreKey containment") {
  auto ab = StoreKey::parse("a/b").value();
  CHECK(StoreKey::parse("a/b/c").value().is_within(ab));
  CHECK(ab.is_within(ab));
  CHECK_FALSE(StoreKey::parse("a/bc").value().is_within(ab));
  CHECK(ab.is_within(StoreKey::root()));
  CHECK(StoreKey::parse("a/b/c/d").value().relative_to(ab).str() == "c/d");
  CHECK(ab.relative_to(ab).is_root());
}

TEST_CASE("StoreKey orders segment by segment") {
  std::vector<StoreKey> keys;
  for (const char* text : {"a0", "a-b", "a/b", "a", "b", "a/b/c", "\xff", "A"}) {
    keys.push_back(StoreKey::parse(text).value());
  }
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> order;
  for (const auto& key : keys)
    order.push_back(key.str());
  CHECK(order == std::vector<std::string>{"A", "a", "a/b", "a/b/c", "a-b", "a0", "b", "\xff"});
  CHECK(StoreKey::parse("a").value() == StoreKey::parse("/a/").value());
}
